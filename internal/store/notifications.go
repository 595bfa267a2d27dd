package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Notifications: the webhooks an app has through the API, the
// deliveries of events to webhooks, each attempt, and the notifier's
// place in the event log (migration 005). Package notify decides what
// to deliver and sends it; the store keeps what a restart needs.

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Event types of notifications.
const (
	EventNotificationHookAdded   = "notification.hook.added"   // data: NotificationHook, URL by HostOnlyURL
	EventNotificationHookRemoved = "notification.hook.removed" // data: NotificationHook, URL by HostOnlyURL
	// EventNotificationDelivery tells that a delivery ended (succeeded or
	// failed for good); data: NotificationDelivery without body, URL by
	// HostOnlyURL.
	EventNotificationDelivery = "notification.delivery"
)

// notificationRetention is how long ended deliveries are kept.
const notificationRetention = 30 * 24 * time.Hour

// NotificationHook is a webhook added to an app through the API.
type NotificationHook struct {
	ID        string    `json:"id"` // "<app>-n<number>", set by the store
	App       string    `json:"app"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`     // empty: every event
	Secret    string    `json:"-"`          // sealed at rest, never answered
	HasSecret bool      `json:"has_secret"` // set by the store
	CreatedAt time.Time `json:"created_at"` // set by the store
}

// NotificationDelivery is one event delivered to one webhook.
type NotificationDelivery struct {
	ID      string `json:"id"` // random, sent as X-Cutover-Delivery; set by the store
	App     string `json:"app"`
	Hook    string `json:"hook"` // a NotificationHook ID, or "cutover.yaml#<n>"
	URL     string `json:"url"`
	EventID int64  `json:"event_id"` // the event of the log it tells of
	Event   string `json:"event"`    // deployment.failed, pipeline.waiting, ...
	Subject string `json:"subject,omitempty"`
	// Body is the JSON sent, without its send time and delivery id,
	// which each attempt adds.
	Body          json.RawMessage       `json:"body,omitempty"`
	Secret        string                `json:"-"` // sealed at rest
	Status        string                `json:"status"`
	Attempts      int                   `json:"attempts"`
	NextAttemptAt time.Time             `json:"next_attempt_at,omitzero"`
	LastError     string                `json:"last_error,omitempty"`
	CreatedAt     time.Time             `json:"created_at"`
	UpdatedAt     time.Time             `json:"updated_at"`
	AttemptLog    []NotificationAttempt `json:"attempt_log,omitempty"`
}

// NotificationAttempt is one try of a delivery.
type NotificationAttempt struct {
	N          int           `json:"n"`
	At         time.Time     `json:"at"`
	StatusCode int           `json:"status_code,omitempty"` // 0: no answer
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
}

// AddNotificationHook adds a webhook to h.App and appends
// notification.hook.added. The same URL twice is ErrConflict.
func (s *Store) AddNotificationHook(ctx context.Context, h NotificationHook) (NotificationHook, error) {
	err := s.write(ctx, "adding a notification webhook to "+h.App, func(t *tx) error {
		if _, err := t.getApp(ctx, h.App); err != nil {
			return err
		}
		if h.URL == "" {
			return fmt.Errorf("%w: the URL is empty", ErrInvalid)
		}
		if h.Events == nil {
			h.Events = []string{}
		}
		events, _ := json.Marshal(h.Events)
		if err := t.QueryRowContext(ctx, "SELECT coalesce(max(number), 0) + 1 FROM notification_hooks WHERE app = ?", h.App).Scan(&h.ID); err != nil {
			return err
		}
		h.ID = h.App + "-n" + h.ID
		h.CreatedAt, h.HasSecret = t.now, h.Secret != ""
		number := h.ID[len(h.App)+2:]
		_, err := t.ExecContext(ctx,
			"INSERT INTO notification_hooks (id, app, number, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			h.ID, h.App, number, h.URL, string(events), s.sealer.seal(h.Secret), formatTime(h.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %s already has a webhook for %s", ErrConflict, h.App, h.URL)
		}
		if err != nil {
			return err
		}
		logged := h
		logged.URL = HostOnlyURL(h.URL)
		return t.emit(ctx, EventNotificationHookAdded, h.App, "", logged)
	})
	if err != nil {
		return NotificationHook{}, err
	}
	return h, nil
}

// NotificationHooks returns app's webhooks, secrets opened, oldest
// first.
func (s *Store) NotificationHooks(ctx context.Context, app string) ([]NotificationHook, error) {
	rows, err := s.r.QueryContext(ctx,
		"SELECT id, app, url, events, secret, created_at FROM notification_hooks WHERE app = ? ORDER BY number", app)
	if err != nil {
		return nil, fmt.Errorf("listing the webhooks of %s: %w", app, err)
	}
	defer rows.Close()
	hooks := []NotificationHook{}
	for rows.Next() {
		var h NotificationHook
		var events, secret string
		var created timeValue
		if err := rows.Scan(&h.ID, &h.App, &h.URL, &events, &secret, &created); err != nil {
			return nil, fmt.Errorf("listing the webhooks of %s: %w", app, err)
		}
		if err := json.Unmarshal([]byte(events), &h.Events); err != nil {
			return nil, fmt.Errorf("listing the webhooks of %s: %w", app, err)
		}
		if h.Secret, err = s.sealer.open(secret); err != nil {
			return nil, fmt.Errorf("listing the webhooks of %s: %w", app, err)
		}
		h.HasSecret, h.CreatedAt = h.Secret != "", created.t
		hooks = append(hooks, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the webhooks of %s: %w", app, err)
	}
	return hooks, nil
}

// RemoveNotificationHook removes app's webhook whose ID or URL is ref,
// abandons its pending deliveries and appends notification.hook.removed.
func (s *Store) RemoveNotificationHook(ctx context.Context, app, ref string) (NotificationHook, error) {
	var h NotificationHook
	err := s.write(ctx, "removing webhook "+ref+" of "+app, func(t *tx) error {
		if _, err := t.getApp(ctx, app); err != nil {
			return err
		}
		var events string
		err := t.QueryRowContext(ctx, "SELECT id, app, url, events FROM notification_hooks WHERE app = ? AND (id = ? OR url = ?)",
			app, ref, ref).Scan(&h.ID, &h.App, &h.URL, &events)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s has no webhook %s", ErrNotFound, app, ref)
		}
		if err != nil {
			return err
		}
		_ = json.Unmarshal([]byte(events), &h.Events)
		if _, err := t.ExecContext(ctx, "DELETE FROM notification_hooks WHERE id = ?", h.ID); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx,
			"UPDATE notification_deliveries SET status = ?, last_error = ?, updated_at = ? WHERE hook = ? AND status = ?",
			DeliveryFailed, "the webhook was removed", formatTime(t.now), h.ID, DeliveryPending); err != nil {
			return err
		}
		logged := h
		logged.URL = HostOnlyURL(h.URL)
		return t.emit(ctx, EventNotificationHookRemoved, app, "", logged)
	})
	return h, err
}

// NotificationCursor returns the ID of the last event the notifier has
// handled; ok is false before its first start.
func (s *Store) NotificationCursor(ctx context.Context) (id int64, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, "SELECT last_event_id FROM notification_cursor WHERE id = 1").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the notification cursor: %w", err)
	}
	return id, true, nil
}

// QueueNotifications records the deliveries of event eventID, pending and
// due at once (or failed, unsent, when d.Status says so, with
// d.LastError), and moves the notifier's cursor to eventID, in one
// transaction: an event is turned into deliveries exactly once. A
// delivery to a webhook that already has one for the event is skipped.
// Ended deliveries older than 30 days are deleted. It returns the
// deliveries recorded, with IDs.
func (s *Store) QueueNotifications(ctx context.Context, eventID int64, ds []NotificationDelivery) ([]NotificationDelivery, error) {
	var out []NotificationDelivery
	err := s.write(ctx, fmt.Sprintf("queueing the notifications of event %d", eventID), func(t *tx) error {
		for _, d := range ds {
			if err := validJSON("body", d.Body); err != nil || len(d.Body) == 0 {
				return fmt.Errorf("%w: delivery to %s: the body is not JSON", ErrInvalid, d.URL)
			}
			if d.Status != DeliveryFailed {
				d.Status, d.LastError = DeliveryPending, ""
			}
			d.ID, d.EventID = newDeliveryID(), eventID
			d.CreatedAt, d.UpdatedAt, d.NextAttemptAt = t.now, t.now, t.now
			res, err := t.ExecContext(ctx, `INSERT INTO notification_deliveries
				(id, app, hook, url, event_id, event, subject, body, secret, status, last_error, next_attempt_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, hook) DO NOTHING`,
				d.ID, d.App, d.Hook, d.URL, eventID, d.Event, d.Subject, string(d.Body), s.sealer.seal(d.Secret), d.Status,
				d.LastError, formatTime(t.now), formatTime(t.now), formatTime(t.now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, d)
			}
		}
		if _, err := t.ExecContext(ctx, `INSERT INTO notification_cursor (id, last_event_id) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET last_event_id = max(last_event_id, excluded.last_event_id)`, eventID); err != nil {
			return err
		}
		_, err := t.ExecContext(ctx, "DELETE FROM notification_deliveries WHERE status != ? AND updated_at < ?",
			DeliveryPending, formatTime(t.now.Add(-notificationRetention)))
		return err
	})
	return out, err
}

// HostOnlyURL returns u with everything after the host replaced by
// "/…": a webhook URL's path often holds a credential (Slack's do), so
// the event log and callers without the admin role see only where it
// points.
func HostOnlyURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "…"
	}
	if (p.Path == "" || p.Path == "/") && p.RawQuery == "" {
		return p.Scheme + "://" + p.Host + p.Path
	}
	return p.Scheme + "://" + p.Host + "/…"
}

func newDeliveryID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

const deliveryColumns = "id, app, hook, url, event_id, event, subject, body, secret, status, attempts, next_attempt_at, last_error, created_at, updated_at"

func (s *Store) scanNotificationDelivery(row scanner) (NotificationDelivery, error) {
	var d NotificationDelivery
	var body, secret string
	var next, created, updated timeValue
	err := row.Scan(&d.ID, &d.App, &d.Hook, &d.URL, &d.EventID, &d.Event, &d.Subject, &body, &secret,
		&d.Status, &d.Attempts, &next, &d.LastError, &created, &updated)
	if err != nil {
		return d, err
	}
	d.Body, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = json.RawMessage(body), next.t, created.t, updated.t
	if d.Status != DeliveryPending {
		d.NextAttemptAt = time.Time{}
	}
	d.Secret, err = s.sealer.open(secret)
	return d, err
}

// PendingNotifications returns the deliveries still to be made, the
// soonest due first.
func (s *Store) PendingNotifications(ctx context.Context) ([]NotificationDelivery, error) {
	return s.queryDeliveries(ctx, "listing pending notifications",
		"SELECT "+deliveryColumns+" FROM notification_deliveries WHERE status = ? ORDER BY next_attempt_at, created_at", DeliveryPending)
}

// NotificationDeliveries returns app's newest deliveries (at most
// limit), newest first, each with its attempts.
func (s *Store) NotificationDeliveries(ctx context.Context, app string, limit int) ([]NotificationDelivery, error) {
	ds, err := s.queryDeliveries(ctx, "listing the notifications of "+app,
		"SELECT "+deliveryColumns+" FROM notification_deliveries WHERE app = ? ORDER BY created_at DESC, event_id DESC LIMIT ?", app, limit)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if ds[i].AttemptLog, err = s.notificationAttempts(ctx, ds[i].ID); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func (s *Store) queryDeliveries(ctx context.Context, what, query string, args ...any) ([]NotificationDelivery, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	ds := []NotificationDelivery{}
	for rows.Next() {
		d, err := s.scanNotificationDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ds, nil
}

func (s *Store) notificationAttempts(ctx context.Context, id string) ([]NotificationAttempt, error) {
	rows, err := s.r.QueryContext(ctx,
		"SELECT n, at, status_code, error, duration_ms FROM notification_attempts WHERE delivery_id = ? ORDER BY n", id)
	if err != nil {
		return nil, fmt.Errorf("listing the attempts of delivery %s: %w", id, err)
	}
	defer rows.Close()
	var out []NotificationAttempt
	for rows.Next() {
		var a NotificationAttempt
		var at timeValue
		var ms int64
		if err := rows.Scan(&a.N, &at, &a.StatusCode, &a.Error, &ms); err != nil {
			return nil, fmt.Errorf("listing the attempts of delivery %s: %w", id, err)
		}
		a.At, a.Duration = at.t, time.Duration(ms)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// RecordNotificationAttempt records attempt a of delivery id and the
// delivery's new status: pending with the next attempt at next, or
// succeeded or failed, which appends notification.delivery. A delivery
// that is no longer pending (its webhook was removed) is left as it is,
// with ErrConflict.
func (s *Store) RecordNotificationAttempt(ctx context.Context, id string, a NotificationAttempt, status string, next time.Time) error {
	return s.write(ctx, "recording an attempt of delivery "+id, func(t *tx) error {
		d, err := s.scanNotificationDelivery(t.QueryRowContext(ctx,
			"SELECT "+deliveryColumns+" FROM notification_deliveries WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no delivery %s", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if d.Status != DeliveryPending {
			return fmt.Errorf("%w: delivery %s has %s (%s)", ErrConflict, id, d.Status, d.LastError)
		}
		a.N = d.Attempts + 1
		if a.At.IsZero() {
			a.At = t.now
		}
		if _, err := t.ExecContext(ctx,
			"INSERT INTO notification_attempts (delivery_id, n, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
			id, a.N, formatTime(a.At), a.StatusCode, a.Error, a.Duration.Milliseconds()); err != nil {
			return err
		}
		if next.IsZero() {
			next = t.now
		}
		if _, err := t.ExecContext(ctx,
			"UPDATE notification_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?",
			status, a.N, formatTime(next), a.Error, formatTime(t.now), id); err != nil {
			return err
		}
		if status == DeliveryPending {
			return nil
		}
		d.Status, d.Attempts, d.LastError, d.UpdatedAt, d.Body = status, a.N, a.Error, t.now, nil
		d.NextAttemptAt, d.URL = time.Time{}, HostOnlyURL(d.URL)
		return t.emit(ctx, EventNotificationDelivery, d.App, "", d)
	})
}
