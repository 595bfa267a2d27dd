package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event is one entry of the append-only event log. IDs grow
// monotonically and are never reused; an SSE stream uses them as
// Last-Event-ID.
type Event struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Type       string          `json:"type"`
	App        string          `json:"app,omitempty"`
	Deployment string          `json:"deployment,omitempty"`
	Actor      string          `json:"actor,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// Event types the store writes itself. Other packages append their own
// with Append; by convention a type is "<noun>.<verb or field>".
const (
	EventAppCreated = "app.created" // data: App
	EventAppUpdated = "app.updated" // data: App
	EventAppDeleted = "app.deleted" // data: App, as it was

	EventRevisionCreated = "revision.created" // data: Revision

	EventTaskCreated = "task.created" // data: TaskChange
	EventTaskState   = "task.state"   // data: TaskChange; the state changed
	EventTaskUpdated = "task.updated" // data: TaskChange; other fields changed

	EventDeploymentCreated   = "deployment.created"   // data: DeploymentChange
	EventDeploymentStatus    = "deployment.status"    // data: DeploymentChange; the status changed
	EventDeploymentUpdated   = "deployment.updated"   // data: DeploymentChange; other fields changed
	EventDeploymentLifecycle = "deployment.lifecycle" // data: LifecycleEvent

	EventTrafficShift = "traffic.shift" // data: WeightChange
)

// ActorSystem is the actor of changes made without WithActor: cutover's
// own controllers.
const ActorSystem = "system"

type actorKey struct{}

// WithActor returns a context whose writes are recorded as made by actor
// ("cli", a token's name, ...). The API sets it per request.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns the actor of ctx: the one set by WithActor, or
// ActorSystem.
func Actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return ActorSystem
}

// Append appends an event that is not part of another change (a build
// log line, a hook's output, a pipeline stage). The store assigns ID and,
// when they are empty, At and Actor.
func (s *Store) Append(ctx context.Context, e Event) (Event, error) {
	if e.Type == "" {
		return Event{}, fmt.Errorf("appending event: %w: type is empty", ErrInvalid)
	}
	if err := validJSON("data", e.Data); err != nil {
		return Event{}, fmt.Errorf("appending %s event: %w", e.Type, err)
	}
	err := s.write(ctx, "appending "+e.Type+" event", func(t *tx) error {
		var err error
		e, err = t.appendEvent(ctx, e)
		return err
	})
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

// appendEvent inserts e into the log within t.
func (t *tx) appendEvent(ctx context.Context, e Event) (Event, error) {
	if e.At.IsZero() {
		e.At = t.now
	}
	e.At = e.At.UTC()
	if e.Actor == "" {
		e.Actor = Actor(ctx)
	}
	err := t.QueryRowContext(ctx,
		`INSERT INTO events (at, type, app, deployment, actor, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		formatTime(e.At), e.Type, e.App, e.Deployment, e.Actor, nullJSON(e.Data),
	).Scan(&e.ID)
	if err != nil {
		return Event{}, fmt.Errorf("appending %s event: %w", e.Type, err)
	}
	t.events++
	return e, nil
}

// emit appends an event whose data is v marshalled to JSON.
func (t *tx) emit(ctx context.Context, typ, app, deployment string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", typ, err)
	}
	_, err = t.appendEvent(ctx, Event{Type: typ, App: app, Deployment: deployment, Data: data})
	return err
}

// EventFilter selects events. Zero fields select everything.
type EventFilter struct {
	AfterID    int64    // only events with a greater ID
	BeforeID   int64    // only events with a smaller ID, when > 0
	App        string   // only this app's events
	Deployment string   // only this deployment's events
	Types      []string // only events of these types
	// Limit caps the number of events; 0 means no limit.
	Limit int
	// Newest selects the Limit newest matching events instead of the
	// oldest. They are still returned oldest first.
	Newest bool
}

// Events returns the events f selects, in ID order.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	var where []string
	var args []any
	where = append(where, "id > ?")
	args = append(args, f.AfterID)
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	if f.App != "" {
		where = append(where, "app = ?")
		args = append(args, f.App)
	}
	if f.Deployment != "" {
		where = append(where, "deployment = ?")
		args = append(args, f.Deployment)
	}
	if len(f.Types) > 0 {
		where = append(where, "type IN ("+placeholders(len(f.Types))+")")
		for _, typ := range f.Types {
			args = append(args, typ)
		}
	}
	order := "ASC"
	if f.Newest {
		order = "DESC"
	}
	query := "SELECT id, at, type, app, deployment, actor, data FROM events WHERE " +
		strings.Join(where, " AND ") + " ORDER BY id " + order
	if f.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}

	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	defer rows.Close()
	var events []Event
	for rows.Next() {
		var e Event
		var at timeValue
		var data jsonValue
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.App, &e.Deployment, &e.Actor, &data); err != nil {
			return nil, fmt.Errorf("listing events: %w", err)
		}
		e.At, e.Data = at.t, data.raw
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	if f.Newest {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	return events, nil
}

// LastEventID returns the ID of the newest event, 0 when the log is
// empty. Subscribe(ctx, LastEventID) follows only what happens from now.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.r.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM events").Scan(&id); err != nil {
		return 0, fmt.Errorf("reading last event id: %w", err)
	}
	return id, nil
}
