package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Maintenance is an app's maintenance mode: while On, its production
// listeners answer 503 with Page and a Retry-After header.
type Maintenance struct {
	On bool `json:"on"`
	// Page is the HTML the clients get; "" for the default page. API
	// answers leave it out (see MaintenanceChange).
	Page       string    `json:"-"`
	RetryAfter int       `json:"retry_after,omitempty"` // seconds
	Since      time.Time `json:"since,omitzero"`        // when it was turned on
}

// Event types of maintenance mode.
const (
	EventMaintenanceOn  = "app.maintenance_on"  // data: MaintenanceChange
	EventMaintenanceOff = "app.maintenance_off" // data: MaintenanceChange
)

// MaintenanceChange is the data of a maintenance event: the page itself
// (up to 1 MiB) is not repeated in the log, only its size.
type MaintenanceChange struct {
	RetryAfter  int  `json:"retry_after,omitempty"`
	PageBytes   int  `json:"page_bytes,omitempty"`
	DefaultPage bool `json:"default_page,omitempty"`
}

// GetMaintenance returns the app's maintenance mode, or ErrNotFound
// when there is no such app.
func (s *Store) GetMaintenance(ctx context.Context, app string) (Maintenance, error) {
	if _, err := s.GetApp(ctx, app); err != nil {
		return Maintenance{}, err
	}
	m, err := scanMaintenance(s.r.QueryRowContext(ctx, "SELECT page, retry_after, since FROM app_maintenance WHERE app = ?", app))
	if err != nil {
		return Maintenance{}, fmt.Errorf("getting maintenance mode of %s: %w", app, err)
	}
	return m, nil
}

func scanMaintenance(row scanner) (Maintenance, error) {
	var m Maintenance
	var since timeValue
	err := row.Scan(&m.Page, &m.RetryAfter, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return Maintenance{}, nil
	}
	if err != nil {
		return Maintenance{}, err
	}
	m.On, m.Since = true, since.t
	return m, nil
}

// SetMaintenance turns the app's maintenance mode on, or changes its page
// or Retry-After, and appends app.maintenance_on, which records the call
// even when it changes nothing. It returns the mode as stored.
func (s *Store) SetMaintenance(ctx context.Context, app, page string, retryAfter int) (Maintenance, error) {
	if retryAfter < 0 || retryAfter > 86400 {
		return Maintenance{}, fmt.Errorf("%w: retry_after %d is out of range; valid: 0-86400 seconds", ErrInvalid, retryAfter)
	}
	var out Maintenance
	err := s.write(ctx, "turning maintenance mode of "+app+" on", func(t *tx) error {
		if _, err := t.getApp(ctx, app); err != nil {
			return err
		}
		old, err := scanMaintenance(t.QueryRowContext(ctx, "SELECT page, retry_after, since FROM app_maintenance WHERE app = ?", app))
		if err != nil {
			return err
		}
		out = Maintenance{On: true, Page: page, RetryAfter: retryAfter, Since: t.now}
		if old.On {
			out.Since = old.Since
		}
		_, err = t.ExecContext(ctx, `INSERT INTO app_maintenance (app, page, retry_after, since) VALUES (?, ?, ?, ?)
			ON CONFLICT (app) DO UPDATE SET page = excluded.page, retry_after = excluded.retry_after`,
			app, page, retryAfter, formatTime(out.Since))
		if err != nil {
			return err
		}
		return t.emit(ctx, EventMaintenanceOn, app, "", MaintenanceChange{RetryAfter: retryAfter, PageBytes: len(page), DefaultPage: page == ""})
	})
	return out, err
}

// ClearMaintenance turns the app's maintenance mode off and appends
// app.maintenance_off, which records the call even when the mode was off.
func (s *Store) ClearMaintenance(ctx context.Context, app string) error {
	return s.write(ctx, "turning maintenance mode of "+app+" off", func(t *tx) error {
		if _, err := t.getApp(ctx, app); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, "DELETE FROM app_maintenance WHERE app = ?", app); err != nil {
			return err
		}
		return t.emit(ctx, EventMaintenanceOff, app, "", MaintenanceChange{})
	})
}
