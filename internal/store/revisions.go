package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Revision is an immutable build of an app: what a deployment deploys.
type Revision struct {
	ID       string          `json:"id"`     // "<app>-r<number>", set by the store
	App      string          `json:"app"`    //
	Number   int             `json:"number"` // 1, 2, ... per app, set by the store
	Commit   string          `json:"commit,omitempty"`
	Artifact string          `json:"artifact,omitempty"` // a release directory or an image reference
	Config   json.RawMessage `json:"config,omitempty"`   // the app's configuration when it was built
	// CreatedAt is set by the store.
	CreatedAt time.Time `json:"created_at"`
}

const revisionColumns = "id, app, number, git_commit, artifact, config, created_at"

func scanRevision(row scanner) (Revision, error) {
	var r Revision
	var config jsonValue
	var created timeValue
	if err := row.Scan(&r.ID, &r.App, &r.Number, &r.Commit, &r.Artifact, &config, &created); err != nil {
		return Revision{}, err
	}
	r.Config, r.CreatedAt = config.raw, created.t
	return r, nil
}

// CreateRevision records a new revision of r.App, numbering it after the
// app's newest, and appends revision.created. It returns the revision
// with ID, Number and CreatedAt set.
func (s *Store) CreateRevision(ctx context.Context, r Revision) (Revision, error) {
	err := s.write(ctx, "creating revision of app "+r.App, func(t *tx) error {
		if err := validJSON("config", r.Config); err != nil {
			return err
		}
		if _, err := t.getApp(ctx, r.App); err != nil {
			return err
		}
		if err := t.QueryRowContext(ctx, "SELECT coalesce(max(number), 0) + 1 FROM revisions WHERE app = ?", r.App).Scan(&r.Number); err != nil {
			return err
		}
		r.ID = fmt.Sprintf("%s-r%d", r.App, r.Number)
		r.CreatedAt = t.now
		_, err := t.ExecContext(ctx, "INSERT INTO revisions ("+revisionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			r.ID, r.App, r.Number, r.Commit, r.Artifact, nullJSON(r.Config), formatTime(r.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: revision %s exists", ErrConflict, r.ID)
		}
		if err != nil {
			return err
		}
		return t.emit(ctx, EventRevisionCreated, r.App, "", r)
	})
	if err != nil {
		return Revision{}, err
	}
	return r, nil
}

// GetRevision returns the revision with the given ID, or ErrNotFound.
func (s *Store) GetRevision(ctx context.Context, id string) (Revision, error) {
	r, err := scanRevision(s.r.QueryRowContext(ctx, "SELECT "+revisionColumns+" FROM revisions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Revision{}, fmt.Errorf("getting revision %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Revision{}, fmt.Errorf("getting revision %s: %w", id, err)
	}
	return r, nil
}

func (t *tx) getRevision(ctx context.Context, id string) (Revision, error) {
	r, err := scanRevision(t.QueryRowContext(ctx, "SELECT "+revisionColumns+" FROM revisions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Revision{}, fmt.Errorf("revision %s: %w", id, ErrNotFound)
	}
	return r, err
}

// ListRevisions returns the app's revisions, newest first.
func (s *Store) ListRevisions(ctx context.Context, app string) ([]Revision, error) {
	revs, err := queryAll(ctx, s.r, scanRevision, "SELECT "+revisionColumns+" FROM revisions WHERE app = ? ORDER BY number DESC", app)
	if err != nil {
		return nil, fmt.Errorf("listing revisions of app %s: %w", app, err)
	}
	return revs, nil
}

// checkRevision returns an error unless revision id exists and is app's.
func (t *tx) checkRevision(ctx context.Context, app, id string) error {
	r, err := t.getRevision(ctx, id)
	if err != nil {
		return err
	}
	if r.App != app {
		return fmt.Errorf("%w: revision %s belongs to app %s, not %s", ErrInvalid, r.ID, r.App, app)
	}
	return nil
}
