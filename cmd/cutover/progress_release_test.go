package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// TestProgressRelease: the Release step's output is indented under it,
// and the release command's one-off task is no target.
func TestProgressRelease(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	d := store.Deployment{ID: "hello-d2", App: "hello", FromRevision: "hello-r1", ToRevision: "hello-r2", Strategy: "blue_green",
		Status: store.DeploymentInProgress, Config: json.RawMessage(`{"blue":"blue","green":"green"}`), CreatedAt: t0}
	ev := func(typ string, v any) store.Event {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return store.Event{Type: typ, App: "hello", Data: data}
	}
	var out bytes.Buffer
	p := newProgress(&out, 1)
	for _, e := range []store.Event{
		ev(store.EventDeploymentCreated, store.DeploymentChange{Deployment: d}),
		ev(store.EventTaskState, store.TaskChange{Task: store.Task{ID: "t1", Revision: "hello-r2", State: store.TaskHealthy}}),
		ev(store.EventTaskState, store.TaskChange{Task: store.Task{ID: "hello-r2-release-1", Revision: "hello-r2", TaskSet: deploy.TaskSetOneOff, State: store.TaskRunning}}),
		ev(store.EventDeploymentLifecycle, store.LifecycleEvent{Name: "Release", Status: store.LifecycleFailed, StartedAt: t0, EndedAt: t0.Add(2 * time.Second),
			Message: "release command exited with code 3 after 2s; output:\nmigrating\nmigration 7 failed"}),
	} {
		p.event(e)
	}
	want := `Deploying hello: hello-r1 → hello-r2 (blue_green), deployment hello-d2
  · targets  1/1 healthy
  ✗ Release                2s  release command exited with code 3 after 2s; output:
      migrating
      migration 7 failed
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
