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
