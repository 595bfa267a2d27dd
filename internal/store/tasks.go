package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Task states. A task starts pending, runs, is judged healthy or
// unhealthy by its health checks, drains before it stops, and ends
// stopped. The store does not police the order, only the names.
const (
	TaskPending   = "pending"
	TaskRunning   = "running"
	TaskHealthy   = "healthy"
	TaskUnhealthy = "unhealthy"
	TaskDraining  = "draining"
	TaskStopped   = "stopped"
)

func validTaskState(s string) bool {
	switch s {
	case TaskPending, TaskRunning, TaskHealthy, TaskUnhealthy, TaskDraining, TaskStopped:
		return true
	}
	return false
}

// Task is one running instance of a revision.
type Task struct {
	ID       string `json:"id"` // chosen by the caller, unique across apps
	App      string `json:"app"`
	Revision string `json:"revision"`           // a Revision ID of App
	TaskSet  string `json:"task_set,omitempty"` // "blue", "green", or "" for a rolling deployment
	Driver   string `json:"driver,omitempty"`   // the runtime: "process", "docker", "swarm"
	Address  string `json:"address,omitempty"`  // host:port the proxy sends traffic to
	State    string `json:"state"`              // one of the Task* states
	// DesiredState is what the controller wants the task to be: "" or
	// one of the Task* states, usually running or stopped.
	DesiredState string `json:"desired_state,omitempty"`
	// Handle is how the runtime finds the task again after a restart: a
	// process ID, a container ID.
	Handle string `json:"handle,omitempty"`
	// StartedAt is set to now when the task first leaves pending, and
	// StoppedAt when it becomes stopped, unless the caller set them.
	StartedAt time.Time       `json:"started_at,omitzero"`
	StoppedAt time.Time       `json:"stopped_at,omitzero"`
	Exit      json.RawMessage `json:"exit,omitempty"` // how it ended, as the runtime reports it
	CreatedAt time.Time       `json:"created_at"`     // set by the store
	UpdatedAt time.Time       `json:"updated_at"`     // set by the store
}

// TaskChange is the data of task.* events.
type TaskChange struct {
	Task          Task   `json:"task"`
	PreviousState string `json:"previous_state,omitempty"` // "" for task.created
}

const taskColumns = "id, app, revision, task_set, driver, address, state, desired_state, handle, started_at, stopped_at, exit, created_at, updated_at"

func scanTask(row scanner) (Task, error) {
	var t Task
	var started, stopped, created, updated timeValue
	var exit jsonValue
	err := row.Scan(&t.ID, &t.App, &t.Revision, &t.TaskSet, &t.Driver, &t.Address, &t.State, &t.DesiredState, &t.Handle,
		&started, &stopped, &exit, &created, &updated)
	if err != nil {
		return Task{}, err
	}
	t.StartedAt, t.StoppedAt, t.Exit, t.CreatedAt, t.UpdatedAt = started.t, stopped.t, exit.raw, created.t, updated.t
	return t, nil
}

// PutTask creates the task or replaces it, and appends task.created,
// task.state (the state changed) or task.updated. Putting an unchanged
// task writes nothing. A task cannot move to another app or revision.
func (s *Store) PutTask(ctx context.Context, task Task) error {
	return s.write(ctx, "putting task "+task.ID, func(t *tx) error {
		_, err := t.putTask(ctx, task)
		return err
	})
}

// UpdateTask reads the task, lets fn change it and writes it back in one
// transaction, like PutTask. It returns the task as stored.
//
// fn runs inside the write transaction, which holds the store's only
// writer: it must not call the Store's write methods and should not block.
func (s *Store) UpdateTask(ctx context.Context, id string, fn func(*Task) error) (Task, error) {
	var out Task
	err := s.write(ctx, "updating task "+id, func(t *tx) error {
		task, err := t.getTask(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(&task); err != nil {
			return err
		}
		if task.ID != id {
			return fmt.Errorf("%w: a task's ID cannot change", ErrInvalid)
		}
		out, err = t.putTask(ctx, task)
		return err
	})
	return out, err
}

// SetTaskState sets the task's state: UpdateTask for the common case.
func (s *Store) SetTaskState(ctx context.Context, id, state string) (Task, error) {
	return s.UpdateTask(ctx, id, func(t *Task) error {
		t.State = state
		return nil
	})
}

func (t *tx) putTask(ctx context.Context, task Task) (Task, error) {
	switch {
	case task.ID == "":
		return Task{}, fmt.Errorf("%w: task ID is empty", ErrInvalid)
	case !validTaskState(task.State):
		return Task{}, fmt.Errorf("%w: task state %q (valid: pending, running, healthy, unhealthy, draining, stopped)", ErrInvalid, task.State)
	case task.DesiredState != "" && !validTaskState(task.DesiredState):
		return Task{}, fmt.Errorf("%w: desired task state %q", ErrInvalid, task.DesiredState)
	}
	if err := validJSON("exit", task.Exit); err != nil {
		return Task{}, err
	}
	if task.State != TaskPending && task.StartedAt.IsZero() {
		task.StartedAt = t.now
	}
	if task.State == TaskStopped && task.StoppedAt.IsZero() {
		task.StoppedAt = t.now
	}
	task.StartedAt, task.StoppedAt = task.StartedAt.UTC(), task.StoppedAt.UTC()

	old, err := t.getTask(ctx, task.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := t.checkRevision(ctx, task.App, task.Revision); err != nil {
			return Task{}, err
		}
		task.CreatedAt, task.UpdatedAt = t.now, t.now
		_, err = t.ExecContext(ctx, "INSERT INTO tasks ("+taskColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			task.ID, task.App, task.Revision, task.TaskSet, task.Driver, task.Address, task.State, task.DesiredState, task.Handle,
			nullTime(task.StartedAt), nullTime(task.StoppedAt), nullJSON(task.Exit), formatTime(task.CreatedAt), formatTime(task.UpdatedAt))
		if err != nil {
			return Task{}, err
		}
		return task, t.emit(ctx, EventTaskCreated, task.App, "", TaskChange{Task: task})
	case err != nil:
		return Task{}, err
	}

	if task.App != old.App || task.Revision != old.Revision {
		return Task{}, fmt.Errorf("%w: task %s belongs to %s, it cannot move to %s", ErrInvalid, task.ID, old.Revision, task.Revision)
	}
	task.CreatedAt, task.UpdatedAt = old.CreatedAt, old.UpdatedAt
	if same(old, task) {
		return old, nil
	}
	task.UpdatedAt = t.now
	_, err = t.ExecContext(ctx, `UPDATE tasks SET task_set = ?, driver = ?, address = ?, state = ?, desired_state = ?, handle = ?,
		started_at = ?, stopped_at = ?, exit = ?, updated_at = ? WHERE id = ?`,
		task.TaskSet, task.Driver, task.Address, task.State, task.DesiredState, task.Handle,
		nullTime(task.StartedAt), nullTime(task.StoppedAt), nullJSON(task.Exit), formatTime(task.UpdatedAt), task.ID)
	if err != nil {
		return Task{}, err
	}
	typ := EventTaskUpdated
	if task.State != old.State {
		typ = EventTaskState
	}
	return task, t.emit(ctx, typ, task.App, "", TaskChange{Task: task, PreviousState: old.State})
}

// GetTask returns the task with the given ID, or ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (Task, error) {
	task, err := scanTask(s.r.QueryRowContext(ctx, "SELECT "+taskColumns+" FROM tasks WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Task{}, fmt.Errorf("getting task %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Task{}, fmt.Errorf("getting task %s: %w", id, err)
	}
	return task, nil
}

func (t *tx) getTask(ctx context.Context, id string) (Task, error) {
	task, err := scanTask(t.QueryRowContext(ctx, "SELECT "+taskColumns+" FROM tasks WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Task{}, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return task, err
}

// TaskFilter selects tasks. Zero fields select everything.
type TaskFilter struct {
	App      string
	Revision string
	States   []string // only tasks in one of these states
	Live     bool     // only tasks that are not stopped
}

// ListTasks returns the tasks f selects, oldest first.
func (s *Store) ListTasks(ctx context.Context, f TaskFilter) ([]Task, error) {
	where := []string{"1"}
	var args []any
	if f.App != "" {
		where = append(where, "app = ?")
		args = append(args, f.App)
	}
	if f.Revision != "" {
		where = append(where, "revision = ?")
		args = append(args, f.Revision)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Live {
		where = append(where, "state != ?")
		args = append(args, TaskStopped)
	}
	tasks, err := queryAll(ctx, s.r, scanTask,
		"SELECT "+taskColumns+" FROM tasks WHERE "+strings.Join(where, " AND ")+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	return tasks, nil
}
