package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Preview statuses.
const (
	PreviewDeploying  = "deploying"  // an execution builds and deploys its commit
	PreviewDeployed   = "deployed"   // its last execution succeeded
	PreviewFailed     = "failed"     // its last execution did not
	PreviewDestroying = "destroying" // its pull request closed, its branch went, or it was idle
)

// Event types of preview apps. Data: PreviewChange.
const (
	EventPreviewCreated   = "preview.created"
	EventPreviewDeployed  = "preview.deployed"
	EventPreviewFailed    = "preview.failed"
	EventPreviewRefused   = "preview.refused"
	EventPreviewDestroyed = "preview.destroyed"
)

// ErrPreviewLimit: the parent app runs as many preview apps as its limit
// allows.
var ErrPreviewLimit = errors.New("preview app limit reached")

// Preview is a preview app: an app made from Parent's cutover.yaml for a
// pull request or a branch.
type Preview struct {
	App         string    `json:"app"`
	Parent      string    `json:"parent"`
	SourceKey   string    `json:"source_key"` // "pr:42" or "branch:<name>": one preview per key and parent
	PullRequest int       `json:"pull_request,omitempty"`
	Branch      string    `json:"branch,omitempty"`
	Host        string    `json:"host"`
	URL         string    `json:"url"`
	Commit      string    `json:"commit,omitempty"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"` // its last activity; idle expiry counts from it
}

// PreviewChange is the data of a preview.* event.
type PreviewChange struct {
	Preview
	Reason string `json:"reason,omitempty"` // why it was refused or destroyed, or why it failed
}

const previewColumns = "app, parent, source_key, pull_request, branch, host, url, git_commit, status, created_at, updated_at"

func scanPreview(row scanner) (Preview, error) {
	var p Preview
	var created, updated timeValue
	err := row.Scan(&p.App, &p.Parent, &p.SourceKey, &p.PullRequest, &p.Branch, &p.Host, &p.URL, &p.Commit, &p.Status, &created, &updated)
	p.CreatedAt, p.UpdatedAt = created.t, updated.t
	return p, err
}

// GetPreview returns the preview app named app, or ErrNotFound when app
// is no preview.
func (s *Store) GetPreview(ctx context.Context, app string) (Preview, error) {
	p, err := scanPreview(s.r.QueryRowContext(ctx, "SELECT "+previewColumns+" FROM previews WHERE app = ?", app))
	if errors.Is(err, sql.ErrNoRows) {
		return Preview{}, fmt.Errorf("getting preview app %s: %w", app, ErrNotFound)
	}
	if err != nil {
		return Preview{}, fmt.Errorf("getting preview app %s: %w", app, err)
	}
	return p, nil
}

// ListPreviews returns the preview apps of parent, or of every app when
// parent is "", oldest first.
func (s *Store) ListPreviews(ctx context.Context, parent string) ([]Preview, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+previewColumns+" FROM previews WHERE ? = '' OR parent = ? ORDER BY created_at, app", parent, parent)
	if err != nil {
		return nil, fmt.Errorf("listing preview apps: %w", err)
	}
	defer rows.Close()
	var out []Preview
	for rows.Next() {
		p, err := scanPreview(rows)
		if err != nil {
			return nil, fmt.Errorf("listing preview apps: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing preview apps: %w", err)
	}
	return out, nil
}

// PutPreview records a preview app's commit, status and activity (now).
// A new one (no row for its parent and source key yet) is created only
// while its parent has fewer than limit previews; otherwise the result
// is ErrPreviewLimit, and preview.refused is appended with the reason.
// It returns the preview as stored and whether it is new.
func (s *Store) PutPreview(ctx context.Context, p Preview, limit int) (out Preview, created bool, err error) {
	if p.App == "" || p.Parent == "" || p.SourceKey == "" || p.Host == "" || p.Status == "" {
		return Preview{}, false, fmt.Errorf("putting preview app %q: %w: app, parent, source key, host and status are required", p.App, ErrInvalid)
	}
	var refused error
	err = s.write(ctx, "putting preview app "+p.App, func(t *tx) error {
		if _, err := t.getApp(ctx, p.Parent); err != nil {
			return err
		}
		old, err := scanPreview(t.QueryRowContext(ctx, "SELECT "+previewColumns+" FROM previews WHERE app = ?", p.App))
		switch {
		case err == nil && (old.Parent != p.Parent || old.SourceKey != p.SourceKey):
			return fmt.Errorf("%w: app %s is the preview of %s %s", ErrConflict, p.App, old.Parent, old.SourceKey)
		case err == nil:
			p.CreatedAt = old.CreatedAt
		case errors.Is(err, sql.ErrNoRows):
			if refused = t.checkPreviewLimit(ctx, p, limit); refused != nil {
				return t.emit(ctx, EventPreviewRefused, p.Parent, "", PreviewChange{Preview: p, Reason: refused.Error()})
			}
			created, p.CreatedAt = true, t.now
		default:
			return err
		}
		p.UpdatedAt = t.now
		_, err = t.ExecContext(ctx, `INSERT INTO previews (`+previewColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (app) DO UPDATE SET git_commit = excluded.git_commit, status = excluded.status, url = excluded.url,
				host = excluded.host, branch = excluded.branch, updated_at = excluded.updated_at`,
			p.App, p.Parent, p.SourceKey, p.PullRequest, p.Branch, p.Host, p.URL, p.Commit, p.Status, formatTime(p.CreatedAt), formatTime(p.UpdatedAt))
		if err != nil || !created {
			return err
		}
		return t.emit(ctx, EventPreviewCreated, p.Parent, "", PreviewChange{Preview: p})
	})
	if err == nil && refused != nil {
		return Preview{}, false, refused
	}
	return p, created, err
}

// checkPreviewLimit returns ErrPreviewLimit, wrapped with the previews
// that count, when p's parent has limit previews already.
func (t *tx) checkPreviewLimit(ctx context.Context, p Preview, limit int) error {
	var n int
	if err := t.QueryRowContext(ctx, "SELECT count(*) FROM previews WHERE parent = ?", p.Parent).Scan(&n); err != nil {
		return err
	}
	if n < limit {
		return nil
	}
	return fmt.Errorf("%w: %s runs %d preview apps, its limit is %d; %s was not created (close a pull request, destroy a preview or raise preview.limit)",
		ErrPreviewLimit, p.Parent, n, limit, p.App)
}

// SetPreviewStatus changes a preview's status, and appends event (one of
// the preview.* types) with reason when event is not "". Activity is
// not touched: a failed deployment is no activity of the pull request.
func (s *Store) SetPreviewStatus(ctx context.Context, app, status, event, reason string) (Preview, error) {
	var p Preview
	err := s.write(ctx, "setting the status of preview app "+app, func(t *tx) error {
		var err error
		p, err = scanPreview(t.QueryRowContext(ctx, "SELECT "+previewColumns+" FROM previews WHERE app = ?", app))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		p.Status = status
		if _, err := t.ExecContext(ctx, "UPDATE previews SET status = ? WHERE app = ?", status, app); err != nil {
			return err
		}
		if event == "" {
			return nil
		}
		return t.emit(ctx, event, p.Parent, "", PreviewChange{Preview: p, Reason: reason})
	})
	return p, err
}

// DeletePreview forgets a preview app and appends preview.destroyed
// with reason. The app itself is the controller's to destroy first.
func (s *Store) DeletePreview(ctx context.Context, app, reason string) error {
	return s.write(ctx, "deleting preview app "+app, func(t *tx) error {
		p, err := scanPreview(t.QueryRowContext(ctx, "SELECT "+previewColumns+" FROM previews WHERE app = ?", app))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, "DELETE FROM previews WHERE app = ?", app); err != nil {
			return err
		}
		return t.emit(ctx, EventPreviewDestroyed, p.Parent, "", PreviewChange{Preview: p, Reason: reason})
	})
}
