package swarm

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

func TestNewFailsWhenEngineUnreachable(t *testing.T) {
	c, err := client.New(client.WithHost("unix:///nonexistent/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = New(t.Context(), Options{Client: c})
	if err == nil {
		t.Fatal("New succeeded without an Engine")
	}
	if want := "connecting to Docker Engine at unix:///nonexistent/docker.sock: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q; want it to contain %q", err, want)
	}
}

func TestStartServesHTTP(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	spec.Labels["team"] = "web"
	spec.Labels[ConstraintLabel+".role"] = "node.role==manager"
	spec.Resources = runtime.Resources{MemoryBytes: 64 << 20, CPUs: 0.5}

	task := start(t, d, spec)

	host, _, err := net.SplitHostPort(task.Address)
	if err != nil || host != e.nodeAddr {
		t.Errorf("Address = %q; want %s:<port> (the node's address)", task.Address, e.nodeAddr)
	}
	if got, want := get(t, task.Address, "/"), "hello from "+spec.ID+"\n"; got != want {
		t.Errorf("GET / = %q; want %q", got, want)
	}
	if task.ID != spec.ID || task.App != "hello" || task.Revision != "rev1" || task.Driver != "swarm" {
		t.Errorf("task = %+v; want ID %s, App hello, Revision rev1, Driver swarm", task, spec.ID)
	}
	if !task.Running || task.Exit != nil || task.Container == "" || task.StartedAt.IsZero() {
		t.Errorf("task = %+v; want running, with a container id and start time", task)
	}
	if task.Labels["team"] != "web" || task.Labels[labelManaged] != "" {
		t.Errorf("Labels = %v; want the spec's labels only", task.Labels)
	}

	// The service carries the limits and the constraint.
	svc, err := e.client.ServiceInspect(t.Context(), serviceName(spec.ID), client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := svc.Service.Spec.TaskTemplate
	if l := tmpl.Resources.Limits; l == nil || l.MemoryBytes != 64<<20 || l.NanoCPUs != 5e8 {
		t.Errorf("limits = %+v; want 64 MiB and 0.5 CPU", l)
	}
	if got := tmpl.Placement.Constraints; !slices.Equal(got, []string{"node.role==manager"}) {
		t.Errorf("constraints = %v; want [node.role==manager]", got)
	}
	if tmpl.RestartPolicy.Condition != "none" {
		t.Errorf("restart policy = %q; want none", tmpl.RestartPolicy.Condition)
	}
}

func TestStopGracefully(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	task := start(t, d, spec)
	get(t, task.Address, "/") // the app is up and handles SIGTERM
	waitForLog(t, d, spec.ID, "listening on :8080")

	exit, err := d.Stop(t.Context(), spec.ID, 0)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if exit.Code != 0 || strings.Contains(exit.Reason, "killed") || exit.At.IsZero() {
		t.Errorf("Exit = %+v; want code 0 after SIGTERM, with a time", exit)
	}
	if _, err := tryGet(task.Address, "/"); err == nil {
		t.Errorf("GET %s succeeded after Stop", task.Address)
	}

	// Wait, Stop again and a new Driver's List report the same end.
	again, err := d.Stop(t.Context(), spec.ID, 0)
	if err != nil || again.Code != exit.Code || again.Reason != exit.Reason {
		t.Errorf("second Stop = %+v, %v; want %+v", again, err, exit)
	}
	waited, err := d.Wait(t.Context(), spec.ID)
	if err != nil || waited.Reason != exit.Reason {
		t.Errorf("Wait after Stop = %+v, %v; want %+v", waited, err, exit)
	}
	listed := find(t, e.newDriver(t, Options{}), spec.ID)
	if listed.Running || listed.Exit == nil || listed.Exit.Reason != exit.Reason || listed.Address != "" {
		t.Errorf("listed = %+v; want exited (%s), without an address", listed, exit.Reason)
	}
}

func TestStopKillsAfterGracePeriod(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"IGNORE_SIGTERM": "1"})
	spec.StopTimeout = time.Second
	task := start(t, d, spec)
	get(t, task.Address, "/")

	exit, err := d.Stop(t.Context(), spec.ID, 0)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Swarm may delete the task before its exit code is read; when it is
	// read, it is the kill.
	if exit.Code != -1 && (exit.Code != 137 || exit.Signal != "SIGKILL") {
		t.Errorf("Exit = %+v; want 137 (SIGKILL) after the 1s grace period", exit)
	}
}

func TestCrashIsReported(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	task := start(t, d, spec)

	get(t, task.Address, "/crash?code=3")
	exit, err := d.Wait(t.Context(), spec.ID)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if exit.Code != 3 || exit.Reason != "exited with code 3" {
		t.Errorf("Exit = %+v; want code 3", exit)
	}
	// Swarm does not restart it: the task stays exited.
	time.Sleep(time.Second)
	if listed := find(t, d, spec.ID); listed.Running || listed.Exit == nil || listed.Exit.Code != 3 {
		t.Errorf("listed = %+v; want exited with code 3, not restarted", listed)
	}
	if out := waitForLog(t, d, spec.ID, "crashing with code 3"); !strings.Contains(out, "starting task") {
		t.Errorf("logs = %q; want the start line too", out)
	}
}

func TestExitAtOnceIsStartFailed(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"EXIT_NOW": "4"})
	t.Cleanup(func() { remove(t, d, spec.ID) })

	_, err := d.Start(t.Context(), spec)
	if !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start = %v; want ErrStartFailed", err)
	}
	if !strings.Contains(err.Error(), "exited with code 4") {
		t.Errorf("error = %q; want the exit code", err)
	}
	assertNoService(t, e, spec.ID)
}

func TestUnsatisfiableConstraintFails(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{StartTimeout: 3 * time.Second})
	spec := e.spec(t, "a", nil)
	spec.Labels[ConstraintLabel] = "node.labels.cutover-test-zone==nowhere"
	t.Cleanup(func() { remove(t, d, spec.ID) })

	_, err := d.Start(t.Context(), spec)
	if !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start = %v; want ErrStartFailed", err)
	}
	if !strings.Contains(err.Error(), "pending") || !strings.Contains(err.Error(), "no suitable node") {
		t.Errorf("error = %q; want it to say the task is pending for lack of a suitable node", err)
	}
	assertNoService(t, e, spec.ID)
}

func TestReadoptionByNewDriver(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	first := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	task := start(t, first, spec)
	first.Close()

	second := e.newDriver(t, Options{})
	adopted := find(t, second, spec.ID)
	if !adopted.Running || adopted.Address != task.Address || adopted.App != "hello" || adopted.Revision != "rev1" {
		t.Errorf("adopted = %+v; want running at %s", adopted, task.Address)
	}
	get(t, adopted.Address, "/")
	exit, err := second.Stop(t.Context(), spec.ID, 0)
	if err != nil || exit.Code != 0 {
		t.Errorf("Stop by the new driver = %+v, %v; want code 0", exit, err)
	}
}

func TestLogsTail(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"LOG_LINES": "5"})
	start(t, d, spec)

	waitForLog(t, d, spec.ID, "listening on")
	out := logs(t, d, spec.ID, runtime.LogOptions{Tail: 2})
	if strings.Contains(out, "line 3") || !strings.Contains(out, "listening on :8080") {
		t.Errorf("Tail 2 = %q; want the last two lines only", out)
	}
}

func TestUnknownTask(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	id := "t" + e.runID + "-nosuchtask"
	if _, err := d.Stop(t.Context(), id, 0); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stop = %v; want ErrNotFound", err)
	}
	if _, err := d.Wait(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait = %v; want ErrNotFound", err)
	}
	if err := d.Remove(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove = %v; want ErrNotFound", err)
	}
	if _, err := d.Logs(t.Context(), id, runtime.LogOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Logs = %v; want ErrNotFound", err)
	}
}

// find returns task id as d.List reports it.
func find(t *testing.T, d *Driver, id string) runtime.Task {
	t.Helper()
	tasks, err := d.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, task := range tasks {
		if task.ID == id {
			return task
		}
	}
	t.Fatalf("List has no task %s", id)
	return runtime.Task{}
}

func assertNoService(t *testing.T, e *testEngine, id string) {
	t.Helper()
	if _, err := e.client.ServiceInspect(t.Context(), serviceName(id), client.ServiceInspectOptions{}); err == nil {
		t.Errorf("service %s exists; want it removed", serviceName(id))
	}
}

// The die event carries the exit code Stop reports when Swarm deleted
// the task before a poll read it.
func TestExitWatchReadsTheDieEvent(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	t.Cleanup(func() { remove(t, d, spec.ID) })
	start(t, d, spec)
	_, obs, err := d.observe(t.Context(), serviceName(spec.ID))
	if err != nil || obs.task.Status.ContainerStatus == nil {
		t.Fatalf("observing the task: %v, %+v", err, obs.task.Status)
	}
	died := d.watchExit(t.Context(), obs.task.Status.ContainerStatus.ContainerID)
	defer died.stop()
	if _, err := d.Stop(t.Context(), spec.ID, 0); err != nil {
		t.Fatal(err)
	}
	if code, ok := died.code(30 * time.Second); !ok || code != 0 {
		t.Errorf("die event: code %d, %v; want 0 (the task exits on SIGTERM)", code, ok)
	}
}
