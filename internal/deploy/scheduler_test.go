package deploy

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

// healthyTargets counts the healthy targets of the app's groups.
func (e *env) healthyTargets() int {
	n := 0
	for _, ts := range e.proxy.Targets() {
		if ts.State == proxy.StateHealthy {
			n++
		}
	}
	return n
}

func TestSchedulerReplacesKilledTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	l := startLoad(t, e.prodAddr)
	time.Sleep(300 * time.Millisecond)

	tasks, err := e.store.ListTasks(t.Context(), store.TaskFilter{App: "web", Live: true})
	if err != nil || len(tasks) != 2 {
		t.Fatalf("live tasks: %v, %v; want 2", tasks, err)
	}
	victim := tasks[0]
	pid, err := strconv.Atoi(victim.Handle)
	if err != nil {
		t.Fatalf("task handle %q is not a pid", victim.Handle)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	waitFor(t, 20*time.Second, "a replacement", func() bool {
		got, err := e.store.GetTask(t.Context(), victim.ID)
		if err != nil || got.State != store.TaskStopped {
			return false
		}
		live, _ := e.store.ListTasks(t.Context(), store.TaskFilter{App: "web", States: []string{store.TaskHealthy}})
		return len(live) == 2 && e.healthyTargets() == 2
	})
	time.Sleep(300 * time.Millisecond)
	l.checkNoFailures(t)

	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("production answers %v, want v1 only", got)
	}
}
