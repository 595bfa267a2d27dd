package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
	"github.com/cutover/cutover/internal/store/fulldisk"
)

// startAttempts counts the tasks the app's scheduler tried to start.
func (e *env) startAttempts(app string) int {
	e.ctrl.mu.Lock()
	defer e.ctrl.mu.Unlock()
	n := 0
	for _, s := range e.ctrl.apps[app].sets {
		n += s.started
	}
	return n
}

// appStatus is what `cutover status` shows: healthy tasks the store
// lists, and the desired count.
func (e *env) appStatus(app string) (healthy, desired int) {
	ctx := e.t.Context()
	a, err := e.store.GetApp(ctx, app)
	if err != nil {
		e.t.Fatal(err)
	}
	tasks, err := e.store.ListTasks(ctx, store.TaskFilter{App: app, States: []string{store.TaskHealthy}})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(tasks), a.DesiredCount
}

// TestFullDiskBacksOffAndRecovers fills the data directory, kills the
// app's only task, and checks that the scheduler backs off instead of
// retrying every tick, that the refused write marking the task stopped
// is kept and lands once space is back, and that the store and status
// then say 1/1 with the dead task stopped.
func TestFullDiskBacksOffAndRecovers(t *testing.T) {
	t.Parallel()
	dir := fulldisk.Mount(t, 16<<20)
	e := newEnvIn(t, dir)
	cfg := e.appConfig("v1")
	cfg.Service.Count = 1
	e.setup(cfg)
	var victim store.Task
	waitFor(t, 20*time.Second, "a healthy task", func() bool {
		tasks, _ := e.store.ListTasks(t.Context(), store.TaskFilter{App: "web", Live: true})
		if len(tasks) == 1 && tasks[0].State == store.TaskHealthy {
			victim = tasks[0]
			return true
		}
		return false
	})

	fulldisk.Fill(t, filepath.Join(dir, "fill-1"))
	killTask(t, victim)
	// The runtime deletes the dead task's files; fill what they freed.
	waitFor(t, 10*time.Second, "the runtime to forget the task", func() bool { return !e.runs(victim.ID) })
	fulldisk.Fill(t, filepath.Join(dir, "fill-2"))
	refuseWrites(t, e.store)

	before := e.startAttempts("web")
	time.Sleep(6 * time.Second)
	attempts := e.startAttempts("web") - before
	t.Logf("%d start attempts in 6s on a full disk", attempts)
	if attempts > 5 { // backing off 1s, 2s, 4s: 3; every 100ms tick: 60
		t.Errorf("%d start attempts in 6s on a full disk; want at most 5 (backing off)", attempts)
	}
	if got, _ := e.store.GetTask(t.Context(), victim.ID); got.State == store.TaskStopped {
		t.Fatal("the store recorded the dead task stopped on a full disk; the test did not fill it")
	}

	os.Remove(filepath.Join(dir, "fill-1"))
	os.Remove(filepath.Join(dir, "fill-2"))
	e.waitRecovered(victim.ID)
	checkEvent(t, e.store, "service.backoff", "restarts backing off: next attempt in", "disk is full")
	checkEvent(t, e.store, "store.recovered", "disk is full")
}

// recovery describes the store and status after the full disk.
func (e *env) recovery(victim string) string {
	got, err := e.store.GetTask(e.t.Context(), victim)
	if err != nil {
		e.t.Fatal(err)
	}
	healthy, desired := e.appStatus("web")
	live := 0
	for _, n := range e.liveTasks("web") {
		live += n
	}
	return fmt.Sprintf("dead task %s, status %d/%d, %d live task, %d healthy target", got.State, healthy, desired, live, e.healthyTargets())
}

// TestFullDiskAtStart restarts cutover on a full disk after its task
// died: the restart's write marking the task stopped is refused, kept
// and written once space is back, and restarts back off meanwhile.
func TestFullDiskAtStart(t *testing.T) {
	t.Parallel()
	dir := fulldisk.Mount(t, 16<<20)
	e := newEnvIn(t, dir)
	cfg := e.appConfig("v1")
	cfg.Service.Count = 1
	e.setup(cfg)
	tasks := e.liveTaskList("web")
	if len(tasks) != 1 {
		t.Fatalf("live tasks: %v; want 1", tasks)
	}
	victim := tasks[0]
	e.kill()

	fulldisk.Fill(t, filepath.Join(dir, "fill"))
	killTask(t, victim)
	refuseWrites(t, e.store)
	e.startController()
	before := e.startAttempts("web")
	time.Sleep(4 * time.Second)
	if attempts := e.startAttempts("web") - before; attempts > 4 { // backing off 1s, 2s: 2; every tick: 40
		t.Errorf("%d start attempts in 4s on a full disk; want at most 4 (backing off)", attempts)
	}
	if got, _ := e.store.GetTask(t.Context(), victim.ID); got.State == store.TaskStopped {
		t.Fatal("the store recorded the dead task stopped on a full disk; the test did not fill it")
	}

	os.Remove(filepath.Join(dir, "fill"))
	e.waitRecovered(victim.ID)
}

// liveTaskList returns the app's tasks the store lists as not stopped.
func (e *env) liveTaskList(app string) []store.Task {
	e.t.Helper()
	tasks, err := e.store.ListTasks(e.t.Context(), store.TaskFilter{App: app, Live: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return tasks
}

// waitRecovered waits until the store and status say 1/1 with victim
// stopped.
func (e *env) waitRecovered(victim string) {
	e.t.Helper()
	want := "dead task stopped, status 1/1, 1 live task, 1 healthy target"
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := e.recovery(victim)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("a minute after space came back: %s; want %s", got, want)
		}
	}
}

func killTask(t *testing.T, task store.Task) {
	t.Helper()
	pid, err := strconv.Atoi(task.Handle)
	if err != nil {
		t.Fatalf("task handle %q is not a pid", task.Handle)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// runs reports whether the runtime lists task id.
func (e *env) runs(id string) bool {
	tasks, err := e.driver.List(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, task := range tasks {
		if task.ID == id {
			return true
		}
	}
	return false
}

// refuseWrites makes sure the store refuses writes: SQLite's WAL may
// still have room for a few after the file system is full.
func refuseWrites(t *testing.T, st *store.Store) {
	t.Helper()
	data := []byte(`"` + strings.Repeat("x", 2000) + `"`)
	for range 5000 {
		if _, err := st.Append(context.Background(), store.Event{Type: "test.fill", Data: data}); err != nil {
			return
		}
	}
	t.Fatal("the store still writes on a full disk")
}

// checkEvent fails the test unless the log has an event of typ whose
// data contains every one of texts.
func checkEvent(t *testing.T, st *store.Store, typ string, texts ...string) {
	t.Helper()
	events, err := st.Events(t.Context(), store.EventFilter{Types: []string{typ}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if containsAll(string(ev.Data), texts) {
			t.Logf("%s: %s", typ, ev.Data)
			return
		}
	}
	t.Errorf("no %s event mentions %q; got %d of that type", typ, texts, len(events))
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
