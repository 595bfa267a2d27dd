package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Deployment statuses, CodeDeploy's. Created and InProgress are active;
// the others are final.
const (
	DeploymentCreated    = "Created"
	DeploymentInProgress = "InProgress"
	DeploymentSucceeded  = "Succeeded"
	DeploymentFailed     = "Failed"
	DeploymentStopped    = "Stopped"
	DeploymentRolledBack = "RolledBack"
)

func validDeploymentStatus(s string) bool {
	switch s {
	case DeploymentCreated, DeploymentInProgress, DeploymentSucceeded, DeploymentFailed, DeploymentStopped, DeploymentRolledBack:
		return true
	}
	return false
}

// Deployment moves an app from one revision to another. An app has at
// most one active deployment.
type Deployment struct {
	ID           string          `json:"id"`                      // "<app>-d<number>", set by the store
	App          string          `json:"app"`                     //
	Number       int             `json:"number"`                  // 1, 2, ... per app, set by the store
	FromRevision string          `json:"from_revision,omitempty"` // "" for an app's first deployment
	ToRevision   string          `json:"to_revision"`
	Strategy     string          `json:"strategy,omitempty"` // "blue_green", "rolling"
	Status       string          `json:"status"`             // one of the Deployment* statuses
	Step         string          `json:"step,omitempty"`     // the lifecycle event in progress or last started
	Config       json.RawMessage `json:"config,omitempty"`   // the deployment configuration, as the controller encodes it
	Error        string          `json:"error,omitempty"`    // why it failed, stopped or rolled back
	CreatedAt    time.Time       `json:"created_at"`         // set by the store
	UpdatedAt    time.Time       `json:"updated_at"`         // set by the store
	EndedAt      time.Time       `json:"ended_at,omitzero"`  // set by the store when the status becomes final
}

// Active reports whether the deployment is Created or InProgress.
func (d Deployment) Active() bool {
	return d.Status == DeploymentCreated || d.Status == DeploymentInProgress
}

// DeploymentChange is the data of deployment.created, .status and
// .updated events.
type DeploymentChange struct {
	Deployment     Deployment `json:"deployment"`
	PreviousStatus string     `json:"previous_status,omitempty"` // "" for deployment.created
	PreviousStep   string     `json:"previous_step,omitempty"`
}

const deploymentColumns = "id, app, number, from_revision, to_revision, strategy, status, step, config, error, created_at, updated_at, ended_at"

func scanDeployment(row scanner) (Deployment, error) {
	var d Deployment
	var from stringValue
	var config jsonValue
	var created, updated, ended timeValue
	err := row.Scan(&d.ID, &d.App, &d.Number, &from, &d.ToRevision, &d.Strategy, &d.Status, &d.Step, &config, &d.Error,
		&created, &updated, &ended)
	if err != nil {
		return Deployment{}, err
	}
	d.FromRevision, d.Config, d.CreatedAt, d.UpdatedAt, d.EndedAt = from.s, config.raw, created.t, updated.t, ended.t
	return d, nil
}

// CreateDeployment records a new deployment of d.App to d.ToRevision and
// appends deployment.created. Its status is d.Status, Created when
// empty; it must be active. It refuses with ErrDeploymentInProgress
// while the app has another active deployment: checked in the same
// transaction and enforced by a unique index, so of two concurrent
// creates only one succeeds. It returns the deployment with ID, Number
// and times set.
func (s *Store) CreateDeployment(ctx context.Context, d Deployment) (Deployment, error) {
	err := s.write(ctx, "creating deployment of app "+d.App, func(t *tx) error {
		if d.Status == "" {
			d.Status = DeploymentCreated
		}
		if !d.Active() {
			return fmt.Errorf("%w: a new deployment's status must be Created or InProgress, not %q", ErrInvalid, d.Status)
		}
		if err := validJSON("config", d.Config); err != nil {
			return err
		}
		if _, err := t.getApp(ctx, d.App); err != nil {
			return err
		}
		if d.ToRevision == "" {
			return fmt.Errorf("%w: the revision to deploy is empty", ErrInvalid)
		}
		if err := t.checkRevision(ctx, d.App, d.ToRevision); err != nil {
			return err
		}
		if d.FromRevision != "" {
			if err := t.checkRevision(ctx, d.App, d.FromRevision); err != nil {
				return err
			}
		}
		if active, err := t.activeDeployment(ctx, d.App); err == nil {
			return fmt.Errorf("%w: %s is %s", ErrDeploymentInProgress, active.ID, active.Status)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}

		if err := t.QueryRowContext(ctx, "SELECT coalesce(max(number), 0) + 1 FROM deployments WHERE app = ?", d.App).Scan(&d.Number); err != nil {
			return err
		}
		d.ID = fmt.Sprintf("%s-d%d", d.App, d.Number)
		d.CreatedAt, d.UpdatedAt, d.EndedAt = t.now, t.now, time.Time{}
		_, err := t.ExecContext(ctx, "INSERT INTO deployments ("+deploymentColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			d.ID, d.App, d.Number, nullString(d.FromRevision), d.ToRevision, d.Strategy, d.Status, d.Step, nullJSON(d.Config), d.Error,
			formatTime(d.CreatedAt), formatTime(d.UpdatedAt), nil)
		if isUniqueViolation(err) {
			// Another process won the race the check above lost.
			return fmt.Errorf("%w: %v", ErrDeploymentInProgress, err)
		}
		if err != nil {
			return err
		}
		return t.emit(ctx, EventDeploymentCreated, d.App, d.ID, DeploymentChange{Deployment: d})
	})
	if err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// UpdateDeployment reads the deployment, lets fn change it and writes it
// back in one transaction, appending deployment.status when the status
// changed and deployment.updated otherwise; an unchanged deployment
// writes nothing. fn may change Status, Step, Strategy, Config and
// Error. A final status is final: changing it is ErrConflict. EndedAt is
// set when the status becomes final. It returns the deployment as stored.
//
// fn runs inside the write transaction, which holds the store's only
// writer: it must not call the Store's write methods and should not block.
func (s *Store) UpdateDeployment(ctx context.Context, id string, fn func(*Deployment) error) (Deployment, error) {
	var out Deployment
	err := s.write(ctx, "updating deployment "+id, func(t *tx) error {
		old, err := t.getDeployment(ctx, id)
		if err != nil {
			return err
		}
		d := old
		if err := fn(&d); err != nil {
			return err
		}
		switch {
		case d.ID != old.ID || d.App != old.App || d.Number != old.Number:
			return fmt.Errorf("%w: a deployment's ID, app and number cannot change", ErrInvalid)
		case d.FromRevision != old.FromRevision || d.ToRevision != old.ToRevision:
			return fmt.Errorf("%w: a deployment's revisions cannot change", ErrInvalid)
		case !validDeploymentStatus(d.Status):
			return fmt.Errorf("%w: deployment status %q (valid: Created, InProgress, Succeeded, Failed, Stopped, RolledBack)", ErrInvalid, d.Status)
		case !old.Active() && d.Status != old.Status:
			return fmt.Errorf("%w: deployment %s has ended %s, its status cannot become %s", ErrConflict, id, old.Status, d.Status)
		}
		if err := validJSON("config", d.Config); err != nil {
			return err
		}
		d.CreatedAt, d.UpdatedAt, d.EndedAt = old.CreatedAt, old.UpdatedAt, old.EndedAt
		if same(old, d) {
			out = old
			return nil
		}
		d.UpdatedAt = t.now
		if !d.Active() && old.Active() {
			d.EndedAt = t.now
		}
		_, err = t.ExecContext(ctx, "UPDATE deployments SET strategy = ?, status = ?, step = ?, config = ?, error = ?, updated_at = ?, ended_at = ? WHERE id = ?",
			d.Strategy, d.Status, d.Step, nullJSON(d.Config), d.Error, formatTime(d.UpdatedAt), nullTime(d.EndedAt), d.ID)
		if err != nil {
			return err
		}
		typ := EventDeploymentUpdated
		if d.Status != old.Status {
			typ = EventDeploymentStatus
		}
		out = d
		return t.emit(ctx, typ, d.App, d.ID, DeploymentChange{Deployment: d, PreviousStatus: old.Status, PreviousStep: old.Step})
	})
	return out, err
}

// GetDeployment returns the deployment with the given ID, or ErrNotFound.
func (s *Store) GetDeployment(ctx context.Context, id string) (Deployment, error) {
	d, err := scanDeployment(s.r.QueryRowContext(ctx, "SELECT "+deploymentColumns+" FROM deployments WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("getting deployment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("getting deployment %s: %w", id, err)
	}
	return d, nil
}

func (t *tx) getDeployment(ctx context.Context, id string) (Deployment, error) {
	d, err := scanDeployment(t.QueryRowContext(ctx, "SELECT "+deploymentColumns+" FROM deployments WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("deployment %s: %w", id, ErrNotFound)
	}
	return d, err
}

func (t *tx) activeDeployment(ctx context.Context, app string) (Deployment, error) {
	d, err := scanDeployment(t.QueryRowContext(ctx, "SELECT "+deploymentColumns+" FROM deployments WHERE app = ? AND status IN (?, ?)",
		app, DeploymentCreated, DeploymentInProgress))
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("active deployment of app %s: %w", app, ErrNotFound)
	}
	return d, err
}

// ListDeployments returns up to limit of the app's deployments, newest
// first; all apps' when app is "", all deployments when limit is 0.
func (s *Store) ListDeployments(ctx context.Context, app string, limit int) ([]Deployment, error) {
	query := "SELECT " + deploymentColumns + " FROM deployments"
	var args []any
	if app != "" {
		query += " WHERE app = ?"
		args = append(args, app)
	}
	query += " ORDER BY created_at DESC, number DESC"
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
	}
	ds, err := queryAll(ctx, s.r, scanDeployment, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing deployments: %w", err)
	}
	return ds, nil
}

// ActiveDeployments returns every active deployment, oldest first: the
// work a restarted cutover resumes.
func (s *Store) ActiveDeployments(ctx context.Context) ([]Deployment, error) {
	ds, err := queryAll(ctx, s.r, scanDeployment, "SELECT "+deploymentColumns+" FROM deployments WHERE status IN (?, ?) ORDER BY created_at, id",
		DeploymentCreated, DeploymentInProgress)
	if err != nil {
		return nil, fmt.Errorf("listing active deployments: %w", err)
	}
	return ds, nil
}

// ActiveDeployment returns the app's active deployment, or ErrNotFound.
func (s *Store) ActiveDeployment(ctx context.Context, app string) (Deployment, error) {
	d, err := scanDeployment(s.r.QueryRowContext(ctx, "SELECT "+deploymentColumns+" FROM deployments WHERE app = ? AND status IN (?, ?)",
		app, DeploymentCreated, DeploymentInProgress))
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("getting active deployment of app %s: %w", app, ErrNotFound)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("getting active deployment of app %s: %w", app, err)
	}
	return d, nil
}
