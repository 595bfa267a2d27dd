package deploy

import (
	"errors"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// TestScale moves the current revision's tasks to the new count and
// records it; wrong counts, unknown apps and a running deployment are
// refused and change nothing.
func TestScale(t *testing.T) {
	e := newEnv(t)
	cfg := e.appConfig("v1")
	e.setup(cfg)
	rev := func() string {
		a, err := e.store.GetApp(t.Context(), "web")
		if err != nil {
			t.Fatal(err)
		}
		return a.CurrentRevision
	}()

	refused := []struct {
		app   string
		count int
		want  error
	}{
		{"web", 0, store.ErrInvalid},
		{"web", config.MaxCount + 1, store.ErrInvalid},
		{"nope", 2, store.ErrNotFound},
	}
	for _, tt := range refused {
		if err := e.ctrl.Scale(t.Context(), tt.app, tt.count); !errors.Is(err, tt.want) {
			t.Errorf("Scale(%s, %d) = %v, want %v", tt.app, tt.count, err, tt.want)
		}
	}

	if err := e.ctrl.Scale(t.Context(), "web", 4); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "4 live tasks", func() bool { return e.liveTasks("web")[rev] == 4 })
	if err := e.ctrl.Scale(t.Context(), "web", 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "1 live task", func() bool { return e.liveTasks("web")[rev] == 1 })
	a, err := e.store.GetApp(t.Context(), "web")
	if err != nil || a.DesiredCount != 1 {
		t.Fatalf("stored app: %+v, %v; want desired count 1", a, err)
	}

	next := e.appConfig("v2")
	next.Deploy.ReadyWait.Wait = 10 * time.Second
	next.Deploy.ReadyWait.Manual = true
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &next})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Scale(t.Context(), "web", 3); !errors.Is(err, store.ErrDeploymentInProgress) {
		t.Errorf("Scale during deployment %s = %v, want ErrDeploymentInProgress", d.ID, err)
	}
}

// TestRestart replaces every task of the current revision and refuses an
// unknown app and a running deployment.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	before := e.taskIDs()
	if err := e.ctrl.Restart(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Restart(nope) = %v, want ErrNotFound", err)
	}
	if err := e.ctrl.Restart(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the old tasks to stop", func() bool {
		now := e.taskIDs()
		for id := range before {
			if now[id] {
				return false
			}
		}
		return len(now) == len(before)
	})

	next := e.appConfig("v2")
	next.Deploy.ReadyWait.Wait = 10 * time.Second
	next.Deploy.ReadyWait.Manual = true
	if _, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &next}); err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Restart(t.Context(), "web"); !errors.Is(err, store.ErrDeploymentInProgress) {
		t.Errorf("Restart during a deployment = %v, want ErrDeploymentInProgress", err)
	}
}

// taskIDs are the ids of web's live tasks in the store.
func (e *env) taskIDs() map[string]bool {
	e.t.Helper()
	tasks, err := e.store.ListTasks(e.t.Context(), store.TaskFilter{App: "web", Live: true})
	if err != nil {
		e.t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, task := range tasks {
		ids[task.ID] = true
	}
	return ids
}
