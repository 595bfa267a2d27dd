package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// fixedClock returns a clock that starts at a fixed UTC time and moves
// one second per call, so tests can tell created from updated.
func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 24, 5, 0, 0, 123456789, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func eventTypes(t *testing.T, s *Store, f EventFilter) []string {
	t.Helper()
	events, err := s.Events(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	return types
}

func TestAppRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	spec := json.RawMessage(`{"service":{"port":3000},"deploy":{"strategy":"blue_green"}}`)
	if err := s.PutApp(ctx, App{Name: "hello", Spec: spec, DesiredCount: 3}); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetApp(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Spec) != string(spec) || a.DesiredCount != 3 || a.CurrentRevision != "" {
		t.Errorf("GetApp = %+v", a)
	}
	if a.CreatedAt.Location() != time.UTC || a.CreatedAt != a.UpdatedAt || a.CreatedAt.Nanosecond() != 123456789 {
		t.Errorf("times = %v / %v, want equal UTC times with nanoseconds kept", a.CreatedAt, a.UpdatedAt)
	}

	// Putting the same app again changes nothing and logs nothing.
	if err := s.PutApp(ctx, App{Name: "hello", Spec: spec, DesiredCount: 3}); err != nil {
		t.Fatal(err)
	}
	if got := eventTypes(t, s, EventFilter{}); len(got) != 1 || got[0] != EventAppCreated {
		t.Fatalf("events = %v, want [app.created]", got)
	}

	rev, err := s.CreateRevision(ctx, Revision{App: "hello", Commit: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := s.UpdateApp(ctx, "hello", func(a *App) error {
		a.DesiredCount = 5
		a.CurrentRevision = rev.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.DesiredCount != 5 || updated.CurrentRevision != rev.ID || !updated.UpdatedAt.After(updated.CreatedAt) || updated.CreatedAt != a.CreatedAt {
		t.Errorf("UpdateApp = %+v", updated)
	}
	got, _ := s.GetApp(ctx, "hello")
	if !same(got, updated) {
		t.Errorf("GetApp after update = %+v, want %+v", got, updated)
	}
	events, _ := s.Events(ctx, EventFilter{Types: []string{EventAppUpdated}})
	var data App
	if len(events) != 1 || json.Unmarshal(events[0].Data, &data) != nil || data.DesiredCount != 5 || events[0].App != "hello" {
		t.Fatalf("app.updated events = %+v", events)
	}
}

func TestPutAppRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "other")
	tests := []struct {
		name string
		app  App
		want error
	}{
		{"empty name", App{}, ErrInvalid},
		{"negative count", App{Name: "a", DesiredCount: -1}, ErrInvalid},
		{"bad spec", App{Name: "a", Spec: []byte(`{`)}, ErrInvalid},
		{"unknown revision", App{Name: "a", CurrentRevision: "a-r9"}, ErrNotFound},
		{"other app's revision", App{Name: "a", CurrentRevision: "other-r1"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countEvents(t, s)
			if err := s.PutApp(ctx, tt.app); !errors.Is(err, tt.want) {
				t.Fatalf("PutApp = %v, want %v", err, tt.want)
			}
			if countEvents(t, s) != before {
				t.Error("a refused PutApp appended an event")
			}
		})
	}
	if _, err := s.GetApp(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetApp(a) = %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateApp(ctx, "other", func(a *App) error { a.Name = "renamed"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("renaming = %v, want ErrInvalid", err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateApp(ctx, "other", func(a *App) error { a.DesiredCount = 9; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateApp with failing fn = %v, want boom", err)
	}
	if a, _ := s.GetApp(ctx, "other"); a.DesiredCount != 2 {
		t.Errorf("a failing fn changed the app: %+v", a)
	}
}

func TestListApps(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for _, name := range []string{"web", "api", "worker"} {
		if err := s.PutApp(ctx, App{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	apps, err := s.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	if len(names) != 3 || names[0] != "api" || names[1] != "web" || names[2] != "worker" {
		t.Fatalf("ListApps = %v, want [api web worker]", names)
	}
}

func TestDeleteApp(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTask(ctx, Task{ID: "t1", App: "hello", Revision: rev.ID, State: TaskRunning}); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteApp(ctx, "hello"); !errors.Is(err, ErrDeploymentInProgress) {
		t.Fatalf("DeleteApp during a deployment = %v, want ErrDeploymentInProgress", err)
	}
	if _, err := s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error { d.Status = DeploymentSucceeded; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, "hello"); !errors.Is(err, ErrConflict) {
		t.Fatalf("DeleteApp with a running task = %v, want ErrConflict", err)
	}
	if _, err := s.SetTaskState(ctx, "t1", TaskStopped); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, "hello"); err != nil {
		t.Fatal(err)
	}

	for what, err := range map[string]error{
		"app":        func() error { _, err := s.GetApp(ctx, "hello"); return err }(),
		"revision":   func() error { _, err := s.GetRevision(ctx, rev.ID); return err }(),
		"task":       func() error { _, err := s.GetTask(ctx, "t1"); return err }(),
		"deployment": func() error { _, err := s.GetDeployment(ctx, d.ID); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after DeleteApp: %v, want ErrNotFound", what, err)
		}
	}
	// The log keeps the history, and says the app was deleted.
	types := eventTypes(t, s, EventFilter{App: "hello"})
	if len(types) < 5 || types[len(types)-1] != EventAppDeleted {
		t.Fatalf("events of hello = %v, want the history ending in app.deleted", types)
	}
}
