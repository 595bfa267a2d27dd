package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
)

func TestDeploymentRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	r1 := seedApp(t, s, "hello")
	r2, err := s.CreateRevision(ctx, Revision{App: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", FromRevision: r1.ID, ToRevision: r2.ID, Strategy: "blue_green",
		Config: []byte(`{"traffic":"CodeDeployDefault.ECSCanary10Percent5Minutes"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "hello-d1" || d.Status != DeploymentCreated || d.CreatedAt.IsZero() || !d.EndedAt.IsZero() {
		t.Fatalf("CreateDeployment = %+v", d)
	}
	got, err := s.GetDeployment(ctx, d.ID)
	if err != nil || !same(got, d) {
		t.Fatalf("GetDeployment = %+v, %v; want %+v", got, err, d)
	}

	d, err = s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error {
		d.Status = DeploymentInProgress
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err = s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error {
		d.Step = LifecycleAllowTraffic
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing changes: nothing is written.
	if _, err := s.UpdateDeployment(ctx, d.ID, func(*Deployment) error { return nil }); err != nil {
		t.Fatal(err)
	}
	d, err = s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error {
		d.Status, d.Error = DeploymentRolledBack, "error rate 5% above 1% for 30s"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.EndedAt.IsZero() || d.Active() {
		t.Errorf("rolled back deployment = %+v, want EndedAt set", d)
	}
	if got, _ := s.GetDeployment(ctx, d.ID); !same(got, d) {
		t.Errorf("GetDeployment = %+v, want %+v", got, d)
	}

	events, err := s.Events(ctx, EventFilter{Deployment: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, prev, status string }{
		{EventDeploymentCreated, "", DeploymentCreated},
		{EventDeploymentStatus, DeploymentCreated, DeploymentInProgress},
		{EventDeploymentUpdated, DeploymentInProgress, DeploymentInProgress},
		{EventDeploymentStatus, DeploymentInProgress, DeploymentRolledBack},
	}
	if len(events) != len(want) {
		t.Fatalf("deployment events = %d, want %d", len(events), len(want))
	}
	for i, w := range want {
		var c DeploymentChange
		if err := json.Unmarshal(events[i].Data, &c); err != nil {
			t.Fatal(err)
		}
		if events[i].Type != w.typ || c.PreviousStatus != w.prev || c.Deployment.Status != w.status {
			t.Errorf("event %d = %s %s→%s, want %s %s→%s", i, events[i].Type, c.PreviousStatus, c.Deployment.Status, w.typ, w.prev, w.status)
		}
	}

	// A final status is final.
	if _, err := s.UpdateDeployment(ctx, d.ID, func(d *Deployment) error { d.Status = DeploymentInProgress; return nil }); !errors.Is(err, ErrConflict) {
		t.Errorf("reviving an ended deployment = %v, want ErrConflict", err)
	}
}

func TestUpdateDeploymentRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(*Deployment) error
		want error
	}{
		{"fn fails", func(d *Deployment) error { d.Status = DeploymentFailed; return boom }, boom},
		{"unknown status", func(d *Deployment) error { d.Status = "Done"; return nil }, ErrInvalid},
		{"new id", func(d *Deployment) error { d.ID = "x"; return nil }, ErrInvalid},
		{"new revision", func(d *Deployment) error { d.ToRevision = "hello-r2"; return nil }, ErrInvalid},
		{"bad config", func(d *Deployment) error { d.Config = []byte("]"); return nil }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countEvents(t, s)
			if _, err := s.UpdateDeployment(ctx, d.ID, tt.fn); !errors.Is(err, tt.want) {
				t.Fatalf("UpdateDeployment = %v, want %v", err, tt.want)
			}
			if countEvents(t, s) != before {
				t.Error("a refused update appended an event")
			}
			if got, _ := s.GetDeployment(ctx, d.ID); !same(got, d) {
				t.Errorf("a refused update changed the deployment: %+v", got)
			}
		})
	}
	if _, err := s.UpdateDeployment(ctx, "nope", func(*Deployment) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateDeployment(nope) = %v, want ErrNotFound", err)
	}
}

func TestCreateDeploymentRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	other := seedApp(t, s, "other")
	tests := []struct {
		name string
		d    Deployment
		want error
	}{
		{"unknown app", Deployment{App: "nope", ToRevision: rev.ID}, ErrNotFound},
		{"no revision", Deployment{App: "hello"}, ErrInvalid},
		{"unknown revision", Deployment{App: "hello", ToRevision: "hello-r5"}, ErrNotFound},
		{"other app's revision", Deployment{App: "hello", ToRevision: other.ID}, ErrInvalid},
		{"other app's from revision", Deployment{App: "hello", FromRevision: other.ID, ToRevision: rev.ID}, ErrInvalid},
		{"final status", Deployment{App: "hello", ToRevision: rev.ID, Status: DeploymentSucceeded}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.CreateDeployment(ctx, tt.d); !errors.Is(err, tt.want) {
				t.Fatalf("CreateDeployment = %v, want %v", err, tt.want)
			}
		})
	}
	if n := countEvents(t, s); n != 4 {
		t.Errorf("events = %d, want the 4 of seeding", n)
	}
}

func TestOneActiveDeploymentPerApp(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	other := seedApp(t, s, "other")
	before := countEvents(t, s)

	const n = 10
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrDeploymentInProgress):
			t.Errorf("losing create: %v, want ErrDeploymentInProgress", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent creates succeeded, want exactly 1", won)
	}
	if got := countEvents(t, s) - before; got != 1 {
		t.Errorf("events appended = %d, want 1 deployment.created", got)
	}

	// Another app is not affected.
	if _, err := s.CreateDeployment(ctx, Deployment{App: "other", ToRevision: other.ID}); err != nil {
		t.Fatalf("deploying another app: %v", err)
	}
	active, err := s.ActiveDeployment(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.ActiveDeployments(ctx)
	if err != nil || len(all) != 2 || all[0].ID != active.ID {
		t.Fatalf("ActiveDeployments = %+v, %v; want hello's then other's", all, err)
	}

	// Once it ends, the next one may start, numbered after it.
	if _, err := s.UpdateDeployment(ctx, active.ID, func(d *Deployment) error { d.Status = DeploymentStopped; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActiveDeployment(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ActiveDeployment after stop = %v, want ErrNotFound", err)
	}
	next, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID, Status: DeploymentInProgress})
	if err != nil || next.ID != "hello-d2" {
		t.Fatalf("next deployment = %+v, %v; want hello-d2", next, err)
	}

	list, err := s.ListDeployments(ctx, "hello", 0)
	if err != nil || len(list) != 2 || list[0].ID != "hello-d2" {
		t.Fatalf("ListDeployments = %+v, %v; want hello-d2 first", list, err)
	}
	if list, _ := s.ListDeployments(ctx, "", 1); len(list) != 1 {
		t.Fatalf("ListDeployments with limit 1 = %d deployments", len(list))
	}
}

// TestActiveIndexHoldsForAnyWriter checks the partial unique index on
// its own, as another process writing SQL would meet it.
func TestActiveIndexHoldsForAnyWriter(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	if _, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID}); err != nil {
		t.Fatal(err)
	}
	_, err := s.w.Exec(`INSERT INTO deployments (id, app, number, to_revision, status, created_at, updated_at)
		VALUES ('hello-d9', 'hello', 9, ?, 'InProgress', 'x', 'x')`, rev.ID)
	if !isUniqueViolation(err) {
		t.Fatalf("second active row: %v, want a unique constraint violation", err)
	}
	if _, err := s.w.Exec(`INSERT INTO deployments (id, app, number, to_revision, status, created_at, updated_at)
		VALUES ('hello-d9', 'hello', 9, ?, 'Failed', 'x', 'x')`, rev.ID); err != nil {
		t.Fatalf("an ended row next to an active one: %v", err)
	}
}

// TestRowsAndEventsCommitTogether makes the event insert fail and checks
// that the deployment row went with it.
func TestRowsAndEventsCommitTogether(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	if _, err := s.w.Exec(`CREATE TEMP TRIGGER fail_event BEFORE INSERT ON events
		WHEN NEW.type = 'deployment.created' BEGIN SELECT RAISE(ABORT, 'event log refused'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID}); err == nil {
		t.Fatal("CreateDeployment succeeded although its event could not be written")
	}
	if list, err := s.ListDeployments(ctx, "hello", 0); err != nil || len(list) != 0 {
		t.Fatalf("deployments = %+v, %v; want none: the row must roll back with its event", list, err)
	}
}
