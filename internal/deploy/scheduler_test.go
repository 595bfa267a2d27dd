package deploy

import (
	"errors"
	"strconv"
	"strings"
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

func TestBackoff(t *testing.T) {
	const s = time.Second
	tests := []struct {
		n           int
		base, limit time.Duration
		want        time.Duration
	}{
		{0, s, time.Minute, 0},
		{-1, s, time.Minute, 0},
		{1, s, time.Minute, s},
		{2, s, time.Minute, 2 * s},
		{3, s, time.Minute, 4 * s},
		{4, s, time.Minute, 8 * s},
		{6, s, time.Minute, 32 * s},
		{7, s, time.Minute, time.Minute}, // 64s, capped
		{50, s, time.Minute, time.Minute},
		{1 << 30, s, time.Minute, time.Minute}, // no overflow
		{5, s, writeRetry, 16 * s},
		{6, s, writeRetry, writeRetry},
		{3, 100 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, tt.base, tt.limit); got != tt.want {
			t.Errorf("backoff(%d, %s, %s) = %s; want %s", tt.n, tt.base, tt.limit, got, tt.want)
		}
	}
}

func TestBackoffGrowsWithFailuresInARow(t *testing.T) {
	s := &taskSet{}
	var got []time.Duration
	for range 8 {
		before := time.Now()
		s.backOff(errors.New("boom"))
		got = append(got, s.notBefore.Sub(before).Round(time.Second))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("delays after failures in a row: %v; want 1s 2s 4s ... 1m", got)
		}
	}
}

func TestBackoffResetsAfterHealthyForAWhile(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name      string
		task      task
		wantReset bool
	}{
		{"healthy long enough", task{healthySince: now.Add(-restartReset)}, true},
		{"healthy briefly", task{healthySince: now.Add(-restartReset / 2)}, false},
		{"not healthy", task{}, false},
		{"healthy long but stopping", task{healthySince: now.Add(-2 * restartReset), stopping: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &taskSet{tasks: []*task{&tt.task}}
			s.backOff(errors.New("boom"))
			s.backOff(errors.New("boom"))
			resetBackoff(s, now)
			if reset := s.consecutive == 0; reset != tt.wantReset {
				t.Errorf("reset: %v (consecutive %d); want %v", reset, s.consecutive, tt.wantReset)
			}
		})
	}
}

func TestBackoffIsAnnouncedOncePerDelay(t *testing.T) {
	s := &taskSet{rev: store.Revision{ID: "web-r1"}, color: colorBlue}
	for range 3 {
		s.backOff(errors.New("putting task: database or disk is full"))
	}
	now := time.Now()
	note, ok := announce(s, now)
	if !ok || note.Message != "restarts backing off: next attempt in 4s: putting task: database or disk is full" || note.Failures != 3 {
		t.Fatalf("announce = %+v, %v", note, ok)
	}
	if _, ok := announce(s, now.Add(time.Second)); ok {
		t.Error("the same delay was announced twice")
	}
	s.backOff(errors.New("again"))
	if note, ok := announce(s, now); !ok || !strings.Contains(note.Message, "next attempt in 8s: again") {
		t.Errorf("the next delay: %+v, %v", note, ok)
	}
}

// TestReconcileStoreStopsTasksTheRuntimeLacks: a task the store lists as
// healthy that neither the controller nor the runtime has is recorded
// stopped; the running one is left alone.
func TestReconcileStoreStopsTasksTheRuntimeLacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.appConfig("v1")
	cfg.Service.Count = 1
	e.setup(cfg)
	a, err := e.store.GetApp(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	ghost := store.Task{ID: "web-r1-99-dead", App: "web", Revision: a.CurrentRevision, State: store.TaskHealthy}
	if err := e.store.PutTask(t.Context(), ghost); err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.reconcileStore(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.GetTask(t.Context(), ghost.ID)
	if err != nil || got.State != store.TaskStopped {
		t.Errorf("the task the runtime lacks is %s (%v); want stopped", got.State, err)
	}
	if live := e.liveTasks("web"); live[a.CurrentRevision] != 1 {
		t.Errorf("live tasks: %v; want the running one only", live)
	}
}
