package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

func TestTaskLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	rev := seedApp(t, s, "hello")
	task := Task{ID: "hello-r1-1", App: "hello", Revision: rev.ID, TaskSet: "blue", Driver: "process", Address: "127.0.0.1:4001",
		State: TaskPending, DesiredState: TaskRunning}
	if err := s.PutTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTask(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != task.Address || got.TaskSet != "blue" || !got.StartedAt.IsZero() || got.CreatedAt.IsZero() {
		t.Fatalf("GetTask = %+v", got)
	}

	got, err = s.UpdateTask(ctx, task.ID, func(t *Task) error {
		t.State, t.Handle = TaskRunning, "31337"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.StartedAt.IsZero() || got.Handle != "31337" {
		t.Errorf("running task = %+v, want StartedAt and Handle set", got)
	}
	if _, err := s.SetTaskState(ctx, task.ID, TaskHealthy); err != nil {
		t.Fatal(err)
	}
	got, err = s.UpdateTask(ctx, task.ID, func(t *Task) error {
		t.State, t.Exit = TaskStopped, json.RawMessage(`{"code":0,"signal":"SIGTERM"}`)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.StoppedAt.IsZero() || !got.StoppedAt.After(got.StartedAt) || string(got.Exit) != `{"code":0,"signal":"SIGTERM"}` {
		t.Errorf("stopped task = %+v", got)
	}
	// Same state again: no event.
	if _, err := s.SetTaskState(ctx, task.ID, TaskStopped); err != nil {
		t.Fatal(err)
	}

	events, err := s.Events(ctx, EventFilter{Types: []string{EventTaskCreated, EventTaskState, EventTaskUpdated}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, from, to string }{
		{EventTaskCreated, "", TaskPending},
		{EventTaskState, TaskPending, TaskRunning},
		{EventTaskState, TaskRunning, TaskHealthy},
		{EventTaskState, TaskHealthy, TaskStopped},
	}
	if len(events) != len(want) {
		t.Fatalf("task events = %d, want %d", len(events), len(want))
	}
	for i, w := range want {
		var c TaskChange
		if err := json.Unmarshal(events[i].Data, &c); err != nil {
			t.Fatal(err)
		}
		if events[i].Type != w.typ || c.PreviousState != w.from || c.Task.State != w.to || events[i].App != "hello" {
			t.Errorf("event %d = %s %s→%s, want %s %s→%s", i, events[i].Type, c.PreviousState, c.Task.State, w.typ, w.from, w.to)
		}
	}

	// A change of another field is task.updated.
	if _, err := s.UpdateTask(ctx, task.ID, func(t *Task) error { t.DesiredState = TaskStopped; return nil }); err != nil {
		t.Fatal(err)
	}
	if types := eventTypes(t, s, EventFilter{Types: []string{EventTaskUpdated}}); len(types) != 1 {
		t.Errorf("task.updated events = %d, want 1", len(types))
	}
}

func TestPutTaskRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	seedApp(t, s, "other")
	if err := s.PutTask(ctx, Task{ID: "t1", App: "hello", Revision: rev.ID, State: TaskRunning}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		task Task
		want error
	}{
		{"no id", Task{App: "hello", Revision: rev.ID, State: TaskRunning}, ErrInvalid},
		{"unknown state", Task{ID: "t2", App: "hello", Revision: rev.ID, State: "zombie"}, ErrInvalid},
		{"unknown desired state", Task{ID: "t2", App: "hello", Revision: rev.ID, State: TaskRunning, DesiredState: "up"}, ErrInvalid},
		{"unknown revision", Task{ID: "t2", App: "hello", Revision: "hello-r7", State: TaskRunning}, ErrNotFound},
		{"other app's revision", Task{ID: "t2", App: "hello", Revision: "other-r1", State: TaskRunning}, ErrInvalid},
		{"bad exit", Task{ID: "t2", App: "hello", Revision: rev.ID, State: TaskStopped, Exit: []byte("{")}, ErrInvalid},
		{"moving to another app", Task{ID: "t1", App: "other", Revision: "other-r1", State: TaskRunning}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countEvents(t, s)
			if err := s.PutTask(ctx, tt.task); !errors.Is(err, tt.want) {
				t.Fatalf("PutTask = %v, want %v", err, tt.want)
			}
			if countEvents(t, s) != before {
				t.Error("a refused PutTask appended an event")
			}
		})
	}
	if _, err := s.SetTaskState(ctx, "nope", TaskStopped); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetTaskState(nope) = %v, want ErrNotFound", err)
	}
}

func TestListTasks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	r1 := seedApp(t, s, "hello")
	r2, err := s.CreateRevision(ctx, Revision{App: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	o1 := seedApp(t, s, "other")
	for _, task := range []Task{
		{ID: "a", App: "hello", Revision: r1.ID, State: TaskHealthy},
		{ID: "b", App: "hello", Revision: r1.ID, State: TaskStopped},
		{ID: "c", App: "hello", Revision: r2.ID, State: TaskPending},
		{ID: "d", App: "hello", Revision: r2.ID, State: TaskDraining},
		{ID: "e", App: "other", Revision: o1.ID, State: TaskRunning},
	} {
		if err := s.PutTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		filter TaskFilter
		want   string
	}{
		{"all", TaskFilter{}, "abcde"},
		{"app", TaskFilter{App: "hello"}, "abcd"},
		{"revision", TaskFilter{Revision: r2.ID}, "cd"},
		{"states", TaskFilter{States: []string{TaskHealthy, TaskRunning}}, "ae"},
		{"live", TaskFilter{App: "hello", Live: true}, "acd"},
		{"live and states", TaskFilter{States: []string{TaskStopped, TaskPending}, Live: true}, "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tasks, err := s.ListTasks(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, task := range tasks {
				got += task.ID
			}
			if got != tt.want {
				t.Errorf("ListTasks(%+v) = %q, want %q", tt.filter, got, tt.want)
			}
		})
	}
}
