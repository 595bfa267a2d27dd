package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lifecycle event names: CodeDeploy's ECS hooks in their order, then
// cutover's own. Others are allowed.
const (
	LifecycleBeforeInstall         = "BeforeInstall"
	LifecycleInstall               = "Install"
	LifecycleAfterInstall          = "AfterInstall"
	LifecycleAllowTestTraffic      = "AllowTestTraffic"
	LifecycleAfterAllowTestTraffic = "AfterAllowTestTraffic"
	LifecycleBeforeAllowTraffic    = "BeforeAllowTraffic"
	LifecycleAllowTraffic          = "AllowTraffic"
	LifecycleAfterAllowTraffic     = "AfterAllowTraffic"
	LifecycleTerminationWait       = "TerminationWait"
	LifecycleRollback              = "Rollback"
)

// Lifecycle event statuses. Pending and InProgress are open; the others
// are final.
const (
	LifecyclePending    = "Pending"
	LifecycleInProgress = "InProgress"
	LifecycleSucceeded  = "Succeeded"
	LifecycleFailed     = "Failed"
	LifecycleSkipped    = "Skipped"
)

func validLifecycleStatus(s string) bool {
	switch s {
	case LifecyclePending, LifecycleInProgress, LifecycleSucceeded, LifecycleFailed, LifecycleSkipped:
		return true
	}
	return false
}

func finalLifecycleStatus(s string) bool {
	return s == LifecycleSucceeded || s == LifecycleFailed || s == LifecycleSkipped
}

// LifecycleEvent is one step of a deployment, as CodeDeploy lists them.
type LifecycleEvent struct {
	DeploymentID string    `json:"deployment_id"`
	Seq          int       `json:"seq"` // 1, 2, ... per deployment, set by the store
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	Message      string    `json:"message,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
}

const lifecycleColumns = "deployment_id, seq, name, status, message, started_at, ended_at"

func scanLifecycleEvent(row scanner) (LifecycleEvent, error) {
	var e LifecycleEvent
	var started, ended timeValue
	if err := row.Scan(&e.DeploymentID, &e.Seq, &e.Name, &e.Status, &e.Message, &started, &ended); err != nil {
		return LifecycleEvent{}, err
	}
	e.StartedAt, e.EndedAt = started.t, ended.t
	return e, nil
}

// RecordLifecycleEvent adds a lifecycle event to an active deployment
// and appends deployment.lifecycle. Its status is e.Status, Pending when
// empty: record Pending events to list the plan, Skipped ones for steps
// that do not apply. StartedAt and EndedAt are filled in as
// StartLifecycleEvent and EndLifecycleEvent would. It returns the event
// with Seq set.
func (s *Store) RecordLifecycleEvent(ctx context.Context, e LifecycleEvent) (LifecycleEvent, error) {
	err := s.write(ctx, "recording lifecycle event "+e.Name+" of deployment "+e.DeploymentID, func(t *tx) error {
		if e.Status == "" {
			e.Status = LifecyclePending
		}
		var err error
		e, err = t.insertLifecycleEvent(ctx, e)
		return err
	})
	if err != nil {
		return LifecycleEvent{}, err
	}
	return e, nil
}

// StartLifecycleEvent marks the deployment's first Pending event called
// name InProgress, or adds one when there is none, makes name the
// deployment's Step, and appends deployment.lifecycle. The deployment
// must be active.
func (s *Store) StartLifecycleEvent(ctx context.Context, deploymentID, name string) (LifecycleEvent, error) {
	var e LifecycleEvent
	err := s.write(ctx, "starting lifecycle event "+name+" of deployment "+deploymentID, func(t *tx) error {
		pending, err := scanLifecycleEvent(t.QueryRowContext(ctx,
			"SELECT "+lifecycleColumns+" FROM lifecycle_events WHERE deployment_id = ? AND name = ? AND status = ? ORDER BY seq LIMIT 1",
			deploymentID, name, LifecyclePending))
		if errors.Is(err, sql.ErrNoRows) {
			e, err = t.insertLifecycleEvent(ctx, LifecycleEvent{DeploymentID: deploymentID, Name: name, Status: LifecycleInProgress})
			return err
		}
		if err != nil {
			return err
		}
		d, err := t.activeDeploymentByID(ctx, deploymentID)
		if err != nil {
			return err
		}
		e = pending
		e.Status, e.StartedAt = LifecycleInProgress, t.now
		if _, err := t.ExecContext(ctx, "UPDATE lifecycle_events SET status = ?, started_at = ? WHERE deployment_id = ? AND seq = ?",
			e.Status, formatTime(e.StartedAt), e.DeploymentID, e.Seq); err != nil {
			return err
		}
		if err := t.setStep(ctx, d, name); err != nil {
			return err
		}
		return t.emit(ctx, EventDeploymentLifecycle, d.App, d.ID, e)
	})
	if err != nil {
		return LifecycleEvent{}, err
	}
	return e, nil
}

// EndLifecycleEvent ends the open lifecycle event seq of the deployment
// with a final status (Succeeded, Failed or Skipped) and a message, and
// appends deployment.lifecycle. Ending an event that has ended is
// ErrConflict. It returns the event as stored.
func (s *Store) EndLifecycleEvent(ctx context.Context, deploymentID string, seq int, status, message string) (LifecycleEvent, error) {
	var e LifecycleEvent
	err := s.write(ctx, fmt.Sprintf("ending lifecycle event %d of deployment %s", seq, deploymentID), func(t *tx) error {
		if !finalLifecycleStatus(status) {
			return fmt.Errorf("%w: %q is not a final lifecycle status (Succeeded, Failed, Skipped)", ErrInvalid, status)
		}
		var err error
		e, err = scanLifecycleEvent(t.QueryRowContext(ctx, "SELECT "+lifecycleColumns+" FROM lifecycle_events WHERE deployment_id = ? AND seq = ?",
			deploymentID, seq))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if finalLifecycleStatus(e.Status) {
			return fmt.Errorf("%w: %s has ended %s", ErrConflict, e.Name, e.Status)
		}
		d, err := t.getDeployment(ctx, deploymentID)
		if err != nil {
			return err
		}
		e.Status, e.Message, e.EndedAt = status, message, t.now
		if _, err := t.ExecContext(ctx, "UPDATE lifecycle_events SET status = ?, message = ?, ended_at = ? WHERE deployment_id = ? AND seq = ?",
			e.Status, e.Message, formatTime(e.EndedAt), e.DeploymentID, e.Seq); err != nil {
			return err
		}
		return t.emit(ctx, EventDeploymentLifecycle, d.App, d.ID, e)
	})
	if err != nil {
		return LifecycleEvent{}, err
	}
	return e, nil
}

// ListLifecycleEvents returns the deployment's lifecycle events in order.
func (s *Store) ListLifecycleEvents(ctx context.Context, deploymentID string) ([]LifecycleEvent, error) {
	es, err := queryAll(ctx, s.r, scanLifecycleEvent,
		"SELECT "+lifecycleColumns+" FROM lifecycle_events WHERE deployment_id = ? ORDER BY seq", deploymentID)
	if err != nil {
		return nil, fmt.Errorf("listing lifecycle events of deployment %s: %w", deploymentID, err)
	}
	return es, nil
}

// insertLifecycleEvent adds e with the next seq; an InProgress event
// becomes the deployment's step.
func (t *tx) insertLifecycleEvent(ctx context.Context, e LifecycleEvent) (LifecycleEvent, error) {
	if e.Name == "" {
		return LifecycleEvent{}, fmt.Errorf("%w: lifecycle event name is empty", ErrInvalid)
	}
	if !validLifecycleStatus(e.Status) {
		return LifecycleEvent{}, fmt.Errorf("%w: lifecycle status %q (valid: Pending, InProgress, Succeeded, Failed, Skipped)", ErrInvalid, e.Status)
	}
	d, err := t.activeDeploymentByID(ctx, e.DeploymentID)
	if err != nil {
		return LifecycleEvent{}, err
	}
	if e.Status != LifecyclePending && e.Status != LifecycleSkipped && e.StartedAt.IsZero() {
		e.StartedAt = t.now
	}
	if finalLifecycleStatus(e.Status) && e.EndedAt.IsZero() {
		e.EndedAt = t.now
	}
	e.StartedAt, e.EndedAt = e.StartedAt.UTC(), e.EndedAt.UTC()
	if err := t.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) + 1 FROM lifecycle_events WHERE deployment_id = ?", e.DeploymentID).Scan(&e.Seq); err != nil {
		return LifecycleEvent{}, err
	}
	_, err = t.ExecContext(ctx, "INSERT INTO lifecycle_events ("+lifecycleColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		e.DeploymentID, e.Seq, e.Name, e.Status, e.Message, nullTime(e.StartedAt), nullTime(e.EndedAt))
	if err != nil {
		return LifecycleEvent{}, err
	}
	if e.Status == LifecycleInProgress {
		if err := t.setStep(ctx, d, e.Name); err != nil {
			return LifecycleEvent{}, err
		}
	}
	return e, t.emit(ctx, EventDeploymentLifecycle, d.App, d.ID, e)
}

// activeDeploymentByID returns the deployment, or ErrConflict when it
// has ended: an ended deployment's history is closed.
func (t *tx) activeDeploymentByID(ctx context.Context, id string) (Deployment, error) {
	d, err := t.getDeployment(ctx, id)
	if err != nil {
		return Deployment{}, err
	}
	if !d.Active() {
		return Deployment{}, fmt.Errorf("%w: deployment %s has ended %s", ErrConflict, id, d.Status)
	}
	return d, nil
}

// setStep records step as the deployment's current lifecycle step. The
// deployment.lifecycle event that goes with it tells readers.
func (t *tx) setStep(ctx context.Context, d Deployment, step string) error {
	_, err := t.ExecContext(ctx, "UPDATE deployments SET step = ?, updated_at = ? WHERE id = ?", step, formatTime(t.now), d.ID)
	return err
}
