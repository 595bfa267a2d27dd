package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// App is one application: its name, its service definition and
// deployment configuration (Spec, encoded by the controller), and the
// revision it runs.
type App struct {
	Name string `json:"name"`
	// Spec is the service definition and deployment configuration as the
	// controller encodes them. The store keeps it as it is.
	Spec            json.RawMessage `json:"spec,omitempty"`
	DesiredCount    int             `json:"desired_count"`
	CurrentRevision string          `json:"current_revision,omitempty"` // a Revision ID of this app, "" before the first deployment
	CreatedAt       time.Time       `json:"created_at"`                 // set by the store
	UpdatedAt       time.Time       `json:"updated_at"`                 // set by the store
}

const appColumns = "name, spec, desired_count, current_revision, created_at, updated_at"

func scanApp(row scanner) (App, error) {
	var a App
	var spec jsonValue
	var created, updated timeValue
	if err := row.Scan(&a.Name, &spec, &a.DesiredCount, &a.CurrentRevision, &created, &updated); err != nil {
		return App{}, err
	}
	a.Spec, a.CreatedAt, a.UpdatedAt = spec.raw, created.t, updated.t
	return a, nil
}

// PutApp creates the app or replaces its Spec, DesiredCount and
// CurrentRevision, and appends app.created or app.updated. Putting an
// unchanged app writes nothing.
func (s *Store) PutApp(ctx context.Context, a App) error {
	return s.write(ctx, "putting app "+a.Name, func(t *tx) error {
		_, err := t.putApp(ctx, a)
		return err
	})
}

// UpdateApp reads the app, lets fn change it and writes it back in one
// transaction, like PutApp. fn may not rename the app. It returns the
// app as stored.
//
// fn runs inside the write transaction, which holds the store's only
// writer: it must not call the Store's write methods and should not block.
func (s *Store) UpdateApp(ctx context.Context, name string, fn func(*App) error) (App, error) {
	var out App
	err := s.write(ctx, "updating app "+name, func(t *tx) error {
		a, err := t.getApp(ctx, name)
		if err != nil {
			return err
		}
		if err := fn(&a); err != nil {
			return err
		}
		if a.Name != name {
			return fmt.Errorf("%w: an app cannot be renamed", ErrInvalid)
		}
		out, err = t.putApp(ctx, a)
		return err
	})
	return out, err
}

func (t *tx) putApp(ctx context.Context, a App) (App, error) {
	if a.Name == "" {
		return App{}, fmt.Errorf("%w: app name is empty", ErrInvalid)
	}
	if a.DesiredCount < 0 {
		return App{}, fmt.Errorf("%w: desired count %d is negative", ErrInvalid, a.DesiredCount)
	}
	if err := validJSON("spec", a.Spec); err != nil {
		return App{}, err
	}
	if a.CurrentRevision != "" {
		if err := t.checkRevision(ctx, a.Name, a.CurrentRevision); err != nil {
			return App{}, fmt.Errorf("current revision: %w", err)
		}
	}

	old, err := t.getApp(ctx, a.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		a.CreatedAt, a.UpdatedAt = t.now, t.now
		_, err := t.ExecContext(ctx, "INSERT INTO apps ("+appColumns+") VALUES (?, ?, ?, ?, ?, ?)",
			a.Name, nullJSON(a.Spec), a.DesiredCount, a.CurrentRevision, formatTime(a.CreatedAt), formatTime(a.UpdatedAt))
		if err != nil {
			return App{}, err
		}
		return a, t.emit(ctx, EventAppCreated, a.Name, "", a)
	case err != nil:
		return App{}, err
	}

	a.CreatedAt, a.UpdatedAt = old.CreatedAt, old.UpdatedAt
	if same(old, a) {
		return old, nil
	}
	a.UpdatedAt = t.now
	_, err = t.ExecContext(ctx, "UPDATE apps SET spec = ?, desired_count = ?, current_revision = ?, updated_at = ? WHERE name = ?",
		nullJSON(a.Spec), a.DesiredCount, a.CurrentRevision, formatTime(a.UpdatedAt), a.Name)
	if err != nil {
		return App{}, err
	}
	return a, t.emit(ctx, EventAppUpdated, a.Name, "", a)
}

// GetApp returns the app called name, or ErrNotFound.
func (s *Store) GetApp(ctx context.Context, name string) (App, error) {
	a, err := scanApp(s.r.QueryRowContext(ctx, "SELECT "+appColumns+" FROM apps WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return App{}, fmt.Errorf("getting app %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return App{}, fmt.Errorf("getting app %s: %w", name, err)
	}
	return a, nil
}

func (t *tx) getApp(ctx context.Context, name string) (App, error) {
	a, err := scanApp(t.QueryRowContext(ctx, "SELECT "+appColumns+" FROM apps WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return App{}, fmt.Errorf("app %s: %w", name, ErrNotFound)
	}
	return a, err
}

// ListApps returns all apps by name.
func (s *Store) ListApps(ctx context.Context) ([]App, error) {
	apps, err := queryAll(ctx, s.r, scanApp, "SELECT "+appColumns+" FROM apps ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("listing apps: %w", err)
	}
	return apps, nil
}

// DeleteApp deletes the app with its revisions, tasks, deployments and
// their history, and appends app.deleted; the event log keeps what was
// logged. It refuses with ErrDeploymentInProgress while the app has an
// active deployment and with ErrConflict while a task is not stopped.
func (s *Store) DeleteApp(ctx context.Context, name string) error {
	return s.write(ctx, "deleting app "+name, func(t *tx) error {
		a, err := t.getApp(ctx, name)
		if err != nil {
			return err
		}
		if d, err := t.activeDeployment(ctx, name); err == nil {
			return fmt.Errorf("%w: %s is %s", ErrDeploymentInProgress, d.ID, d.Status)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		var live int
		if err := t.QueryRowContext(ctx, "SELECT count(*) FROM tasks WHERE app = ? AND state != ?", name, TaskStopped).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return fmt.Errorf("%w: %d tasks are not stopped", ErrConflict, live)
		}
		if _, err := t.ExecContext(ctx, "DELETE FROM apps WHERE name = ?", name); err != nil {
			return err
		}
		return t.emit(ctx, EventAppDeleted, name, "", a)
	})
}

// same reports whether a and b encode to the same JSON: whether writing b
// over a would change anything a reader can see.
func same(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
