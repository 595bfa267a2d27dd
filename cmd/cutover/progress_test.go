package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// events builds the events of a deployment of hello-r2 whose replacement
// runs in the "blue" target group (the roles swap every deployment).
func progressEvents(t *testing.T) []store.Event {
	t.Helper()
	t0 := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	d := store.Deployment{ID: "hello-d2", App: "hello", FromRevision: "hello-r1", ToRevision: "hello-r2", Strategy: "blue_green",
		Status: store.DeploymentInProgress, Config: json.RawMessage(`{"blue":"green","green":"blue"}`), CreatedAt: t0}
	ev := func(typ string, v any) store.Event {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return store.Event{Type: typ, App: "hello", Data: data}
	}
	done := d
	done.Status, done.EndedAt = store.DeploymentRolledBack, t0.Add(9*time.Second)
	done.Error = "alarm error_rate"
	return []store.Event{
		ev(store.EventDeploymentCreated, store.DeploymentChange{Deployment: d}),
		ev(store.EventDeploymentLifecycle, store.LifecycleEvent{Name: "TerminateOriginal", Status: store.LifecyclePending}),
		ev(store.EventDeploymentLifecycle, store.LifecycleEvent{Name: "Install", Status: store.LifecycleInProgress, StartedAt: t0}),
		ev(store.EventTaskCreated, store.TaskChange{Task: store.Task{ID: "t1", Revision: "hello-r2", State: store.TaskPending}}),
		ev(store.EventTaskState, store.TaskChange{Task: store.Task{ID: "t1", Revision: "hello-r2", State: store.TaskHealthy}}),
		ev(store.EventTaskState, store.TaskChange{Task: store.Task{ID: "old", Revision: "hello-r1", State: store.TaskHealthy}}),
		ev(store.EventDeploymentLifecycle, store.LifecycleEvent{Name: "Install", Status: store.LifecycleSucceeded, StartedAt: t0, EndedAt: t0.Add(1500 * time.Millisecond)}),
		ev(store.EventTrafficShift, store.WeightChange{Listener: "test", Weights: map[string]int{"blue": 100, "green": 0}}),
		ev(store.EventTrafficShift, store.WeightChange{Listener: "production", Weights: map[string]int{"blue": 30, "green": 70}}),
		ev(store.EventDeploymentStatus, store.DeploymentChange{Deployment: done}),
	}
}

func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, 2) // a buffer is not a terminal: plain lines, no colour
	for _, ev := range progressEvents(t) {
		if !p.event(ev) {
			break
		}
	}
	want := `Deploying hello: hello-r1 → hello-r2 (blue_green), deployment hello-d2
  · targets  1/2 healthy
  ✓ Install                1.5s
  · traffic  [######..............]  30% → hello-r2
✗ hello-d2 RolledBack in 9s: alarm error_rate
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if p.final == nil || p.final.Status != store.DeploymentRolledBack {
		t.Errorf("final %+v", p.final)
	}
	if err := deploymentExit(p.final); exitCode(err) != exitRolledBack {
		t.Errorf("exit %v, want %d", err, exitRolledBack)
	}
}

func TestProgressLive(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out, live: true, colour: true, desired: 2}
	for _, ev := range progressEvents(t) {
		p.event(ev)
	}
	p.close()
	s := out.String()
	for _, want := range []string{
		"\r\033[K",                  // the live line is redrawn in place
		"Install ",                  // the step in progress
		"30% → hello-r2",            // the new revision's share, not green's 70%
		"targets 1/2 healthy",       // the new revision's healthy tasks
		"\033[32m✓\033[0m",          // a green tick
		"\033[33mRolledBack\033[0m", // a rollback in yellow
	} {
		if !strings.Contains(s, want) {
			t.Errorf("live output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(s, "TerminateOriginal") {
		t.Errorf("a planned (Pending) step was shown as running:\n%q", s)
	}
	if !strings.HasSuffix(s, "\n") {
		t.Errorf("the output does not end with the final line: %q", s[max(0, len(s)-40):])
	}
}

func TestBarAndDuration(t *testing.T) {
	for _, tt := range []struct {
		percent int
		want    string
	}{{0, "[..........]"}, {50, "[#####.....]"}, {100, "[##########]"}, {150, "[##########]"}, {-5, "[..........]"}} {
		if got := bar(tt.percent, 10); got != tt.want {
			t.Errorf("bar(%d) = %s, want %s", tt.percent, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0s"}, {850 * time.Millisecond, "850ms"}, {12345 * time.Millisecond, "12.3s"}, {245 * time.Second, "4m5s"}} {
		if got := duration(tt.d); got != tt.want {
			t.Errorf("duration(%s) = %s, want %s", tt.d, got, tt.want)
		}
	}
}

func TestDisplay(t *testing.T) {
	for _, tt := range []struct {
		terminal     bool
		env          map[string]string
		live, colour bool
	}{
		{true, nil, true, true},
		{true, map[string]string{"NO_COLOR": "1"}, true, false},
		{true, map[string]string{"TERM": "dumb"}, false, false},
		{false, nil, false, false},
	} {
		live, colour := display(tt.terminal, func(k string) string { return tt.env[k] })
		if live != tt.live || colour != tt.colour {
			t.Errorf("display(%v, %v) = %v, %v; want %v, %v", tt.terminal, tt.env, live, colour, tt.live, tt.colour)
		}
	}
}
