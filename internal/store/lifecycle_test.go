package store

import (
	"context"
	"errors"
	"testing"
)

func TestLifecycleEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	rev := seedApp(t, s, "hello")
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID, Status: DeploymentInProgress})
	if err != nil {
		t.Fatal(err)
	}
	// The plan, as CodeDeploy lists it before it starts.
	for _, name := range []string{LifecycleBeforeInstall, LifecycleInstall, LifecycleAfterInstall} {
		if _, err := s.RecordLifecycleEvent(ctx, LifecycleEvent{DeploymentID: d.ID, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	skipped, err := s.RecordLifecycleEvent(ctx, LifecycleEvent{DeploymentID: d.ID, Name: LifecycleBeforeInstall, Status: LifecycleSkipped, Message: "no hook"})
	if err != nil {
		t.Fatal(err)
	}
	if skipped.Seq != 4 || skipped.EndedAt.IsZero() || !skipped.StartedAt.IsZero() {
		t.Errorf("skipped event = %+v", skipped)
	}

	install, err := s.StartLifecycleEvent(ctx, d.ID, LifecycleInstall)
	if err != nil {
		t.Fatal(err)
	}
	if install.Seq != 2 || install.Status != LifecycleInProgress || install.StartedAt.IsZero() {
		t.Fatalf("started Install = %+v, want the planned event 2 in progress", install)
	}
	if got, _ := s.GetDeployment(ctx, d.ID); got.Step != LifecycleInstall {
		t.Errorf("deployment step = %q, want Install", got.Step)
	}
	install, err = s.EndLifecycleEvent(ctx, d.ID, install.Seq, LifecycleSucceeded, "3 tasks healthy")
	if err != nil {
		t.Fatal(err)
	}
	if install.EndedAt.IsZero() || install.Message != "3 tasks healthy" {
		t.Errorf("ended Install = %+v", install)
	}
	if _, err := s.EndLifecycleEvent(ctx, d.ID, install.Seq, LifecycleFailed, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("ending twice = %v, want ErrConflict", err)
	}
	if _, err := s.EndLifecycleEvent(ctx, d.ID, 1, LifecycleInProgress, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("ending with InProgress = %v, want ErrInvalid", err)
	}
	if _, err := s.EndLifecycleEvent(ctx, d.ID, 99, LifecycleFailed, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("ending event 99 = %v, want ErrNotFound", err)
	}

	// Not planned: added at the end.
	tw, err := s.StartLifecycleEvent(ctx, d.ID, LifecycleTerminationWait)
	if err != nil {
		t.Fatal(err)
	}
	if tw.Seq != 5 {
		t.Errorf("TerminationWait seq = %d, want 5", tw.Seq)
	}

	events, err := s.ListLifecycleEvents(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, status string }{
		{LifecycleBeforeInstall, LifecyclePending},
		{LifecycleInstall, LifecycleSucceeded},
		{LifecycleAfterInstall, LifecyclePending},
		{LifecycleBeforeInstall, LifecycleSkipped},
		{LifecycleTerminationWait, LifecycleInProgress},
	}
	if len(events) != len(want) {
		t.Fatalf("lifecycle events = %+v", events)
	}
	for i, w := range want {
		if events[i].Seq != i+1 || events[i].Name != w.name || events[i].Status != w.status {
			t.Errorf("event %d = %d %s %s, want %s %s", i, events[i].Seq, events[i].Name, events[i].Status, w.name, w.status)
		}
	}
	// 3 planned + 1 skipped + start + end + start.
	if n := len(eventTypes(t, s, EventFilter{Deployment: d.ID, Types: []string{EventDeploymentLifecycle}})); n != 7 {
		t.Errorf("deployment.lifecycle events = %d, want 7", n)
	}

	// An ended deployment's history is closed.
	if _, err := s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error { d.Status = DeploymentSucceeded; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartLifecycleEvent(ctx, d.ID, LifecycleAfterInstall); !errors.Is(err, ErrConflict) {
		t.Errorf("starting an event of an ended deployment = %v, want ErrConflict", err)
	}
	if _, err := s.RecordLifecycleEvent(ctx, LifecycleEvent{DeploymentID: d.ID, Name: "X"}); !errors.Is(err, ErrConflict) {
		t.Errorf("recording an event of an ended deployment = %v, want ErrConflict", err)
	}
}

func TestRecordLifecycleEventRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		e    LifecycleEvent
		want error
	}{
		{"no name", LifecycleEvent{DeploymentID: d.ID}, ErrInvalid},
		{"unknown status", LifecycleEvent{DeploymentID: d.ID, Name: "Install", Status: "Done"}, ErrInvalid},
		{"unknown deployment", LifecycleEvent{DeploymentID: "nope", Name: "Install"}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.RecordLifecycleEvent(ctx, tt.e); !errors.Is(err, tt.want) {
				t.Fatalf("RecordLifecycleEvent = %v, want %v", err, tt.want)
			}
		})
	}
}
