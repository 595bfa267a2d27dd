package docker

import (
	"bufio"
	"context"
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

	task := start(t, d, spec)

	host, _, err := net.SplitHostPort(task.Address)
	if err != nil || host != "127.0.0.1" {
		t.Errorf("Address = %q; want 127.0.0.1:<port>", task.Address)
	}
	if got, want := get(t, task.Address, "/"), "hello from "+spec.ID+"\n"; got != want {
		t.Errorf("GET / = %q; want %q", got, want)
	}
	if task.ID != spec.ID || task.App != "hello" || task.Revision != "rev1" || task.Driver != "docker" {
		t.Errorf("task = %+v; want ID %s, App hello, Revision rev1, Driver docker", task, spec.ID)
	}
	if !task.Running || task.Exit != nil || task.Container == "" || task.StartedAt.IsZero() {
		t.Errorf("task = %+v; want running, with a container id and start time", task)
	}
	if task.Labels["team"] != "web" || task.Labels[labelManaged] != "" {
		t.Errorf("Labels = %v; want the spec's labels only", task.Labels)
	}
}

func TestStopGracefully(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	task := start(t, d, spec)
	get(t, task.Address, "/") // the app is up and handles SIGTERM

	exit, err := d.Stop(t.Context(), spec.ID, 10*time.Second)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if exit.Code != 0 || strings.Contains(exit.Reason, "killed") || exit.At.IsZero() {
		t.Errorf("Exit = %+v; want code 0, not killed, with a time", exit)
	}
	out := waitForLog(t, d, spec.ID, "received SIGTERM")
	if !strings.Contains(out, "bye") {
		t.Errorf("logs = %q; want the app's shutdown to finish (\"bye\")", out)
	}

	// Stopping again reports the same end.
	again, err := d.Stop(t.Context(), spec.ID, 10*time.Second)
	if err != nil || again.Code != 0 {
		t.Errorf("second Stop = %+v, %v; want code 0", again, err)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"IGNORE_SIGTERM": "1"})
	spec.StopTimeout = time.Second
	task := start(t, d, spec)
	get(t, task.Address, "/")

	// Timeout 0: the spec's StopTimeout, kept on the container.
	exit, err := d.Stop(t.Context(), spec.ID, 0)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if exit.Code != 137 || exit.Signal != "SIGKILL" || !strings.Contains(exit.Reason, "killed after stop timeout (1s)") {
		t.Errorf("Exit = %+v; want code 137, SIGKILL, killed after stop timeout (1s)", exit)
	}
	waitForLog(t, d, spec.ID, "ignoring SIGTERM")
}

func TestCrashReportsExitCode(t *testing.T) {
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
	if exit.Code != 3 || exit.Reason != "exited with code 3" || exit.At.IsZero() {
		t.Errorf("Exit = %+v; want code 3, \"exited with code 3\"", exit)
	}

	listed := findTask(t, d, spec.ID)
	if listed.Running || listed.Exit == nil || listed.Exit.Code != 3 || listed.Address != "" {
		t.Errorf("listed task = %+v (exit %+v); want not running, exit code 3, no address", listed, listed.Exit)
	}
}

func TestOOMKilled(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	spec.Resources.MemoryBytes = 32 << 20
	task := start(t, d, spec)

	tryGet(task.Address, "/alloc?mb=128") // the connection dies with the app
	exit, err := d.Wait(t.Context(), spec.ID)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if exit.Reason != "OOM killed" || exit.Code != 137 {
		t.Errorf("Exit = %+v; want code 137, OOM killed", exit)
	}
}

func TestExitAtOnceFailsStart(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	// A long start check, so a slow machine cannot let the exit slip by.
	d := e.newDriver(t, Options{StartCheck: 10 * time.Second})
	spec := e.spec(t, "a", map[string]string{"EXIT_NOW": "2"})

	_, err := d.Start(t.Context(), spec)
	t.Logf("Start error: %v", err)
	if !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start error = %v; want ErrStartFailed", err)
	}
	for _, want := range []string{"exited with code 2", "fatal: EXIT_NOW is set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q; want it to contain %q", err, want)
		}
	}
	e.assertNoContainer(t, spec.ID)
}

func TestBadCommandFailsStart(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	spec.Entrypoint = []string{"/does-not-exist"}

	_, err := d.Start(t.Context(), spec)
	t.Logf("Start error: %v", err)
	if !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start error = %v; want ErrStartFailed", err)
	}
	if !strings.Contains(err.Error(), "/does-not-exist") {
		t.Errorf("error = %q; want it to name the missing executable", err)
	}
	e.assertNoContainer(t, spec.ID)
}

func TestMissingImage(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	spec.Image = "cutover-test-missing:" + e.runID

	_, err := d.Start(t.Context(), spec)
	t.Logf("Start error: %v", err)
	if !errors.Is(err, runtime.ErrStartFailed) || !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("Start error = %v; want ErrStartFailed and ErrImageNotFound", err)
	}
	want := "image " + spec.Image + " not found locally; build or pull it first"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q; want it to contain %q", err, want)
	}
	e.assertNoContainer(t, spec.ID)
}

func TestStartRejectsInvalidSpec(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"A=B": "c"})

	_, err := d.Start(t.Context(), spec)
	t.Logf("Start error: %v", err)
	if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "Env name") {
		t.Fatalf("Start error = %v; want ErrInvalidSpec naming Env", err)
	}
	e.assertNoContainer(t, spec.ID)
}

func TestLogsTail(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"LOG_LINES": "5"})
	start(t, d, spec)

	waitForLog(t, d, spec.ID, "stderr: hello from")
	all := waitForLog(t, d, spec.ID, "listening on :8080") // the app's last line
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	// stdout and stderr reach the log through separate pipes: only the
	// order within each is fixed.
	stdout := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.HasPrefix(l, "stderr: ") })
	wantStdout := []string{"starting task " + spec.ID, "line 1", "line 2", "line 3", "line 4", "line 5", "listening on :8080"}
	if !slices.Equal(stdout, wantStdout) {
		t.Errorf("stdout lines = %q; want %q", stdout, wantStdout)
	}
	if !slices.Contains(lines, "stderr: hello from "+spec.ID) {
		t.Errorf("logs = %q; want the stderr line too", all)
	}
	if strings.ContainsAny(all, "\x00\x01\x02") {
		t.Errorf("logs = %q; want plain text, without stream headers", all)
	}

	rc, err := d.Logs(t.Context(), spec.ID, runtime.LogOptions{Tail: 3})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	var tail []string
	for s := bufio.NewScanner(rc); s.Scan(); {
		tail = append(tail, s.Text())
	}
	if want := lines[len(lines)-3:]; !slices.Equal(tail, want) {
		t.Errorf("Tail 3 = %q; want the last 3 lines %q", tail, want)
	}
}

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	task := start(t, d, spec)
	get(t, task.Address, "/")
	waitForLog(t, d, spec.ID, "request /\n") // old output, which Tail 0 skips

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	rc, err := d.Logs(ctx, spec.ID, runtime.LogOptions{Tail: 0, Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()

	get(t, task.Address, "/followed")
	s := bufio.NewScanner(rc)
	for s.Scan() {
		if s.Text() == "request /" {
			t.Errorf("Tail 0 returned old output %q", s.Text())
		}
		if s.Text() == "request /followed" {
			return
		}
	}
	t.Fatalf("follow ended without the new line: %v", s.Err())
}

func TestReadoption(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	first := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	task := start(t, first, spec)

	// A new Driver, with its own Engine client, as after a cutover restart.
	second := e.newDriver(t, Options{})
	found := findTask(t, second, spec.ID)
	if found.Address != task.Address || found.Container != task.Container || !found.Running {
		t.Errorf("re-adopted task = %+v; want running at %s in container %s", found, task.Address, task.Container)
	}
	if found.App != spec.App || found.Revision != spec.Revision || !found.StartedAt.Equal(task.StartedAt) {
		t.Errorf("re-adopted task = %+v; want app %s, revision %s, started %s", found, spec.App, spec.Revision, task.StartedAt)
	}
	get(t, found.Address, "/")

	exit, err := second.Stop(t.Context(), spec.ID, 10*time.Second)
	if err != nil || exit.Code != 0 {
		t.Fatalf("Stop through the new driver = %+v, %v; want code 0", exit, err)
	}
	if exit, err := first.Wait(t.Context(), spec.ID); err != nil || exit.Code != 0 {
		t.Errorf("Wait through the first driver = %+v, %v; want code 0", exit, err)
	}
}

func TestTasksGetDifferentHostPorts(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	a := e.spec(t, "a", nil)
	b := e.spec(t, "b", nil)
	ta := start(t, d, a)
	tb := start(t, d, b)

	if ta.Address == tb.Address {
		t.Fatalf("both tasks at %s", ta.Address)
	}
	if got := get(t, ta.Address, "/"); got != "hello from "+a.ID+"\n" {
		t.Errorf("task a answered %q", got)
	}
	if got := get(t, tb.Address, "/"); got != "hello from "+b.ID+"\n" {
		t.Errorf("task b answered %q", got)
	}
}

func TestResourceLimitsApplied(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	spec.Resources = runtime.Resources{MemoryBytes: 64 << 20, CPUs: 0.5}
	task := start(t, d, spec)

	inspected, err := e.client.ContainerInspect(t.Context(), task.Container, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host := inspected.Container.HostConfig
	if host.Memory != 64<<20 || host.NanoCPUs != 500_000_000 {
		t.Errorf("HostConfig Memory = %d, NanoCPUs = %d; want %d, 500000000", host.Memory, host.NanoCPUs, 64<<20)
	}
	if host.RestartPolicy.Name != "no" {
		t.Errorf("RestartPolicy = %q; want no", host.RestartPolicy.Name)
	}
	if got := *inspected.Container.Config.StopTimeout; got != 10 {
		t.Errorf("StopTimeout = %d; want 10 (seconds)", got)
	}
}

func TestUnknownTask(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	id := "test-" + e.runID + "-no-such-task"

	_, stopErr := d.Stop(t.Context(), id, time.Second)
	_, waitErr := d.Wait(t.Context(), id)
	_, logsErr := d.Logs(t.Context(), id, runtime.LogOptions{Tail: -1})
	removeErr := d.Remove(t.Context(), id)
	for name, err := range map[string]error{"Stop": stopErr, "Wait": waitErr, "Logs": logsErr, "Remove": removeErr} {
		if !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s error = %v; want ErrNotFound", name, err)
		}
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", nil)
	start(t, d, spec)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Wait(ctx, spec.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait error = %v; want context.Canceled", err)
	}
}

// findTask returns task id from d.List.
func findTask(t *testing.T, d *Driver, id string) runtime.Task {
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
	t.Fatalf("List has no task %s (%d tasks)", id, len(tasks))
	return runtime.Task{}
}

func TestStartFromTaskDef(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	td, err := ParseTaskDef([]byte(`{
		"family": "hello",
		"containerDefinitions": [{
			"name": "web",
			"image": "` + e.image + `",
			"environment": [{"name": "PORT", "value": "9000"}, {"name": "TASK", "value": "from-taskdef"}],
			"portMappings": [{"containerPort": 9000, "protocol": "tcp"}],
			"memory": 64,
			"stopTimeout": 5
		}]
	}`))
	if err != nil {
		t.Fatalf("ParseTaskDef: %v", err)
	}
	spec, _, warnings, err := td.TaskSpec()
	if err != nil || len(warnings) > 0 {
		t.Fatalf("TaskSpec: %v (warnings %q)", err, warnings)
	}
	spec.ID = "test-" + e.runID + "-taskdef"
	spec.App, spec.Revision = "hello", "rev2"
	spec.Labels = map[string]string{labelTestRun: e.runID}

	task := start(t, d, spec)
	if got := get(t, task.Address, "/"); got != "hello from from-taskdef\n" {
		t.Errorf("GET / = %q", got)
	}
}

func TestNewRejectsBadHostIP(t *testing.T) {
	_, err := New(t.Context(), Options{HostIP: "localhost"})
	if err == nil || !strings.Contains(err.Error(), `host IP "localhost"`) {
		t.Errorf("New error = %v; want it to name the bad host IP", err)
	}
}

// Swarm runs the swarm driver's services as containers carrying the same
// cutover labels; they are that driver's tasks, not this one's.
func TestListLeavesOutSwarmServiceContainers(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	plain := e.spec(t, "plain", nil)
	start(t, d, plain)

	// A container as Swarm creates one for a service named after a task.
	swarmSpec := e.spec(t, "swarm", nil)
	opts := d.createOptions(swarmSpec)
	opts.Name = containerName(swarmSpec.ID) + ".1.x"
	opts.Config.Labels[labelSwarmService] = "test-service-id"
	created, err := e.client.ContainerCreate(t.Context(), opts)
	if err != nil {
		t.Fatalf("creating a container labelled as a Swarm service's: %v", err)
	}
	t.Cleanup(func() {
		e.client.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})

	findTask(t, d, plain.ID)
	tasks, err := d.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, task := range tasks {
		if task.ID == swarmSpec.ID {
			t.Errorf("List has the Swarm service's container as task %+v", task)
		}
	}
}

func TestListKeepsToItsOwner(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	mine := e.newDriver(t, Options{Owner: "owner-a-" + randomHex(4)})
	spec := e.spec(t, "owned", nil)
	start(t, mine, spec)

	// The same owner after a restart adopts the task; another daemon on
	// the same Engine does not see it at all.
	again := e.newDriver(t, Options{Owner: mine.owner})
	findTask(t, again, spec.ID)
	other := e.newDriver(t, Options{Owner: "owner-b-" + randomHex(4)})
	tasks, err := other.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if task.ID == spec.ID {
			t.Fatalf("a driver of another owner lists task %s", spec.ID)
		}
	}
	if _, ok := findTask(t, again, spec.ID).Labels[labelOwner]; ok {
		t.Error("the owner label leaks into Task.Labels")
	}
}
