package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestAppendAndFilterEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	appended := []Event{
		{Type: "pipeline.started", App: "web"},
		{Type: "build.log", App: "web", Data: []byte(`{"line":"npm test"}`)},
		{Type: "hook.output", App: "web", Deployment: "web-d1", Actor: "cli"},
		{Type: "pipeline.started", App: "api", At: at},
	}
	for i, e := range appended {
		got, err := s.Append(WithActor(ctx, "token:ci"), e)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != int64(i+1) || got.At.IsZero() || got.At.Location() != time.UTC {
			t.Fatalf("Append = %+v", got)
		}
		wantActor := "token:ci"
		if e.Actor != "" {
			wantActor = e.Actor
		}
		if got.Actor != wantActor {
			t.Errorf("actor = %q, want %q", got.Actor, wantActor)
		}
	}
	if _, err := s.Append(ctx, Event{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Append without type = %v, want ErrInvalid", err)
	}
	if _, err := s.Append(ctx, Event{Type: "x", Data: []byte("{")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Append with malformed data = %v, want ErrInvalid", err)
	}

	tests := []struct {
		name   string
		filter EventFilter
		want   string // IDs
	}{
		{"all", EventFilter{}, "1234"},
		{"after", EventFilter{AfterID: 2}, "34"},
		{"before", EventFilter{BeforeID: 3}, "12"},
		{"app", EventFilter{App: "web"}, "123"},
		{"deployment", EventFilter{Deployment: "web-d1"}, "3"},
		{"types", EventFilter{Types: []string{"pipeline.started", "hook.output"}}, "134"},
		{"limit", EventFilter{Limit: 2}, "12"},
		{"newest", EventFilter{Limit: 2, Newest: true}, "34"},
		{"newest of app", EventFilter{App: "web", Limit: 2, Newest: true}, "23"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := s.Events(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, e := range events {
				got += fmt.Sprint(e.ID)
			}
			if got != tt.want {
				t.Errorf("Events(%+v) = %s, want %s", tt.filter, got, tt.want)
			}
		})
	}

	events, _ := s.Events(ctx, EventFilter{})
	if !events[3].At.Equal(at) || string(events[1].Data) != `{"line":"npm test"}` || events[0].Data != nil {
		t.Errorf("stored events = %+v", events)
	}
	if last, err := s.LastEventID(ctx); err != nil || last != 4 {
		t.Errorf("LastEventID = %d, %v; want 4", last, err)
	}
}

func TestActorDefaultsToSystem(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.PutApp(ctx, App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutApp(WithActor(ctx, "alice"), App{Name: "hello", DesiredCount: 2}); err != nil {
		t.Fatal(err)
	}
	events, _ := s.Events(ctx, EventFilter{})
	if len(events) != 2 || events[0].Actor != ActorSystem || events[1].Actor != "alice" {
		t.Fatalf("events = %+v, want actors system then alice", events)
	}
}

// TestEveryMutationAppendsOneEvent runs each mutating method once and
// counts the events it appended.
func TestEveryMutationAppendsOneEvent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var rev Revision
	var d Deployment
	var le LifecycleEvent
	steps := []struct {
		name string
		do   func() error
		typ  string
	}{
		{"PutApp", func() error { return s.PutApp(ctx, App{Name: "hello"}) }, EventAppCreated},
		{"UpdateApp", func() error {
			_, err := s.UpdateApp(ctx, "hello", func(a *App) error { a.DesiredCount = 2; return nil })
			return err
		}, EventAppUpdated},
		{"CreateRevision", func() (err error) { rev, err = s.CreateRevision(ctx, Revision{App: "hello"}); return err }, EventRevisionCreated},
		{"PutTask", func() error {
			return s.PutTask(ctx, Task{ID: "t1", App: "hello", Revision: rev.ID, State: TaskPending})
		}, EventTaskCreated},
		{"SetTaskState", func() error { _, err := s.SetTaskState(ctx, "t1", TaskRunning); return err }, EventTaskState},
		{"UpdateTask", func() error {
			_, err := s.UpdateTask(ctx, "t1", func(t *Task) error { t.Address = "127.0.0.1:9"; return nil })
			return err
		}, EventTaskUpdated},
		{"CreateDeployment", func() (err error) {
			d, err = s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
			return err
		}, EventDeploymentCreated},
		{"UpdateDeployment status", func() error {
			_, err := s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error { d.Status = DeploymentInProgress; return nil })
			return err
		}, EventDeploymentStatus},
		{"UpdateDeployment other", func() error {
			_, err := s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error { d.Error = "x"; return nil })
			return err
		}, EventDeploymentUpdated},
		{"RecordLifecycleEvent", func() error {
			_, err := s.RecordLifecycleEvent(ctx, LifecycleEvent{DeploymentID: d.ID, Name: LifecycleInstall})
			return err
		}, EventDeploymentLifecycle},
		{"StartLifecycleEvent", func() (err error) { le, err = s.StartLifecycleEvent(ctx, d.ID, LifecycleInstall); return err }, EventDeploymentLifecycle},
		{"EndLifecycleEvent", func() error {
			_, err := s.EndLifecycleEvent(ctx, d.ID, le.Seq, LifecycleSucceeded, "")
			return err
		}, EventDeploymentLifecycle},
		{"RecordWeights", func() error {
			_, err := s.RecordWeights(ctx, d.ID, "production", map[string]int{"blue": 100})
			return err
		}, EventTrafficShift},
		{"Append", func() error { _, err := s.Append(ctx, Event{Type: "note"}); return err }, "note"},
		{"SetTaskState stopped", func() error { _, err := s.SetTaskState(ctx, "t1", TaskStopped); return err }, EventTaskState},
		{"UpdateDeployment end", func() error {
			_, err := s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error { d.Status = DeploymentSucceeded; return nil })
			return err
		}, EventDeploymentStatus},
		{"DeleteApp", func() error { return s.DeleteApp(ctx, "hello") }, EventAppDeleted},
	}
	for _, st := range steps {
		last, err := s.LastEventID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		events, err := s.Events(ctx, EventFilter{AfterID: last})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Type != st.typ {
			t.Errorf("%s appended %+v, want one %s event", st.name, events, st.typ)
		}
	}
}
