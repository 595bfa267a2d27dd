package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

func TestStartServesOnItsPort(t *testing.T) {
	d := newDriver(t, Options{})
	task := start(t, d, appSpec(t, "web-1"))

	host, port, err := net.SplitHostPort(task.Address)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Address = %q, want 127.0.0.1:<port>", task.Address)
	}
	if p, _ := strconv.Atoi(port); p < DefaultPortMin || p > DefaultPortMax {
		t.Errorf("port %d is outside the default range", p)
	}
	if got, want := mustGet(t, task.Address, "/"), "hello from web-1 on port "+port; !strings.Contains(got, want) {
		t.Errorf("GET / = %q, want %q", got, want)
	}
	if !task.Running || task.PID == 0 || task.Driver != "process" || task.App != "hello" {
		t.Errorf("Start returned %+v", task)
	}

	tasks, err := d.List(t.Context())
	if err != nil || len(tasks) != 1 || !tasks[0].Running || tasks[0].PID != task.PID {
		t.Fatalf("List = %+v, %v; want the running task", tasks, err)
	}
	if _, err := d.Stop(t.Context(), "web-1", 0); err != nil {
		t.Fatal(err)
	}
}

func TestTaskEnvironment(t *testing.T) {
	t.Setenv("CUTOVER_SECRET_TOKEN", "hunter2")
	d := newDriver(t, Options{})
	// A relative command runs from Dir.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\nenv\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := runtime.TaskSpec{
		ID:       "env-1",
		App:      "hello",
		Revision: "abc123",
		Command:  []string{"./run.sh"},
		Dir:      dir,
		Env:      map[string]string{"GREETING": "hi", "PORT": "1"},
	}
	task := start(t, d, spec)
	log := waitForLog(t, d, "env-1", "CUTOVER_REVISION=")
	_, port, _ := net.SplitHostPort(task.Address)
	for _, want := range []string{"GREETING=hi", "PORT=" + port + "\n", "CUTOVER_TASK_ID=env-1", "CUTOVER_APP=hello", "CUTOVER_REVISION=abc123", "PATH="} {
		if !strings.Contains(log, want) {
			t.Errorf("task environment lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "hunter2") {
		t.Errorf("task inherited cutover's CUTOVER_SECRET_TOKEN:\n%s", log)
	}
	if _, err := d.Stop(t.Context(), "env-1", time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStopGracefully(t *testing.T) {
	d := newDriver(t, Options{})
	task := start(t, d, appSpec(t, "web-1"))

	// A request in flight when SIGTERM arrives is finished.
	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		body, err := get(t.Context(), task.Address, "/slow")
		slow <- result{body, err}
	}()
	waitForLog(t, d, "web-1", "slow request started")

	exit, err := d.Stop(t.Context(), "web-1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 || exit.Signal != "" || exit.Reason != "stopped by SIGTERM" {
		t.Errorf("Stop = %+v, want code 0, reason \"stopped by SIGTERM\"", exit)
	}
	if r := <-slow; r.err != nil || !strings.Contains(r.body, "slow done") {
		t.Errorf("in-flight request got %q, %v; want it finished", r.body, r.err)
	}
	if log := waitForLog(t, d, "web-1", "received SIGTERM"); !strings.Contains(log, "graceful shutdown") {
		t.Errorf("log does not show a graceful shutdown:\n%s", log)
	}

	again, err := d.Stop(t.Context(), "web-1", 0)
	if err != nil || again != exit {
		t.Errorf("Stop of a stopped task = %+v, %v; want %+v", again, err, exit)
	}
	waited, err := d.Wait(t.Context(), "web-1")
	if err != nil || waited != exit {
		t.Errorf("Wait = %+v, %v; want %+v", waited, err, exit)
	}
}

func TestStopKillsGroupAfterTimeout(t *testing.T) {
	d := newDriver(t, Options{})
	spec := appSpec(t, "stubborn-1", "-ignore-term", "-child")
	spec.StopTimeout = 300 * time.Millisecond
	task := start(t, d, spec)
	child := childPID(t, d, "stubborn-1")
	trackProcess(t, child)
	waitForLog(t, d, "stubborn-1", "listening on")
	waitForLog(t, d, "stubborn-1", "child ignoring SIGTERM")

	exit, err := d.Stop(t.Context(), "stubborn-1", 0) // 0: the spec's StopTimeout
	if err != nil {
		t.Fatal(err)
	}
	if exit.Signal != "SIGKILL" || exit.Code != -1 || exit.Reason != "killed after stop timeout 300ms" {
		t.Errorf("Stop = %+v, want SIGKILL after stop timeout", exit)
	}
	waitGone(t, task.PID)
	waitGone(t, child)
}

func TestStopCleansUpChildThatIgnoresSIGTERM(t *testing.T) {
	d := newDriver(t, Options{})
	start(t, d, appSpec(t, "web-1", "-child"))
	child := childPID(t, d, "web-1")
	trackProcess(t, child)
	waitForLog(t, d, "web-1", "listening on")
	waitForLog(t, d, "web-1", "child ignoring SIGTERM")

	exit, err := d.Stop(t.Context(), "web-1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 {
		t.Errorf("Stop = %+v, want code 0 from the graceful main process", exit)
	}
	waitGone(t, child)
}

func TestCrashIsReportedWithExitCode(t *testing.T) {
	d := newDriver(t, Options{StartCheck: 50 * time.Millisecond})
	start(t, d, exiterSpec(t, "crash-1", "-lines", "1", "-after", "1s", "-code", "3"))

	exit, err := d.Wait(t.Context(), "crash-1")
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 3 || exit.Reason != "exited with code 3" || exit.At.IsZero() {
		t.Errorf("Wait = %+v, want code 3", exit)
	}
	tasks, err := d.List(t.Context())
	if err != nil || len(tasks) != 1 || tasks[0].Running || tasks[0].Exit == nil || tasks[0].Exit.Code != 3 {
		t.Errorf("List = %+v, %v; want the exited task with code 3", tasks, err)
	}
	stopped, err := d.Stop(t.Context(), "crash-1", 0)
	if err != nil || stopped.Code != 3 {
		t.Errorf("Stop of a crashed task = %+v, %v; want its exit", stopped, err)
	}
}

func TestTaskExitingAtOnceFailsToStart(t *testing.T) {
	d := newDriver(t, Options{StartCheck: 5 * time.Second})
	_, err := d.Start(t.Context(), exiterSpec(t, "quick-1", "-lines", "2", "-code", "2"))
	if !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start = %v, want ErrStartFailed", err)
	}
	for _, want := range []string{"exited with code 2", "line 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	tasks, _ := d.List(t.Context())
	if len(tasks) != 0 {
		t.Errorf("List = %+v, want the failed task forgotten", tasks)
	}
	if entries, _ := os.ReadDir(d.opts.StateDir); len(entries) != 0 {
		t.Errorf("state dir holds %d files after a failed start, want none", len(entries))
	}
}

func TestStartCancelledDuringStartCheck(t *testing.T) {
	d := newDriver(t, Options{StartCheck: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan error, 1)
	go func() {
		_, err := d.Start(ctx, appSpec(t, "web-1"))
		started <- err
	}()
	log := waitForLog(t, d, "web-1", "listening on")
	cancel()
	if err := <-started; !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
	var port, pid int
	if _, err := fmt.Sscanf(log, "listening on %d (pid %d)", &port, &pid); err != nil {
		t.Fatalf("no port and pid in log %q: %v", log, err)
	}
	waitGone(t, pid)
	if tasks, _ := d.List(t.Context()); len(tasks) != 0 {
		t.Errorf("List = %+v, want the cancelled task forgotten", tasks)
	}
	if !portFree(port) {
		t.Errorf("port %d of the cancelled task is still in use", port)
	}
}

func TestCommandNotFoundFailsToStart(t *testing.T) {
	d := newDriver(t, Options{})
	spec := exiterSpec(t, "missing-1")
	spec.Command = []string{"./no-such-program"}
	if _, err := d.Start(t.Context(), spec); !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start = %v, want ErrStartFailed", err)
	}
	// The id and the port are free again.
	spec.Command = []string{bins.exiter, "-after", "10s"}
	task := start(t, d, spec)
	if _, err := d.Stop(t.Context(), task.ID, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestReadoptionAfterRestart(t *testing.T) {
	dir := t.TempDir()
	first := newDriver(t, Options{StateDir: dir})
	task := start(t, first, appSpec(t, "web-1"))
	first.Close() // cutover goes away; the task does not

	d := newDriver(t, Options{StateDir: dir})
	tasks, err := d.List(t.Context())
	if err != nil || len(tasks) != 1 {
		t.Fatalf("List after restart = %+v, %v; want the task", tasks, err)
	}
	got := tasks[0]
	if !got.Running || got.PID != task.PID || got.Address != task.Address || !got.StartedAt.Equal(task.StartedAt) {
		t.Errorf("adopted task = %+v, want %+v", got, task)
	}
	if body := mustGet(t, got.Address, "/"); !strings.Contains(body, "hello from web-1") {
		t.Errorf("GET / = %q", body)
	}

	// The adopted task's log, through the new driver, once its log
	// writer has written the line (it writes on its own time).
	waitForLog(t, d, "web-1", "listening on")
	logs, err := d.Logs(t.Context(), "web-1", runtime.LogOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	if out := readAll(t, logs); !strings.Contains(out, "listening on") {
		t.Errorf("logs of the adopted task = %q", out)
	}

	// Its port is taken: a new task gets another one.
	other := start(t, d, appSpec(t, "web-2"))
	if other.Address == got.Address {
		t.Errorf("new task got the adopted task's address %s", other.Address)
	}

	exit, err := d.Stop(t.Context(), "web-1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Reason != "stopped by SIGTERM" {
		t.Errorf("Stop of the adopted task = %+v", exit)
	}
	if waited, err := d.Wait(t.Context(), "web-1"); err != nil || waited != exit {
		t.Errorf("Wait = %+v, %v; want %+v", waited, err, exit)
	}
	waitGone(t, task.PID)
	if _, err := d.Stop(t.Context(), "web-2", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A third driver reads the recorded exit.
	d.Close()
	third := newDriver(t, Options{StateDir: dir})
	tasks, _ = third.List(t.Context())
	if len(tasks) != 2 || tasks[0].Running || tasks[0].Exit == nil || tasks[0].Exit.Reason != "stopped by SIGTERM" {
		t.Errorf("List after second restart = %+v", tasks)
	}
}

func TestTaskDiedWhileNotWatched(t *testing.T) {
	dir := t.TempDir()
	first := newDriver(t, Options{StateDir: dir})
	task := start(t, first, appSpec(t, "web-1"))
	first.Close()
	if err := unix.Kill(task.PID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, task.PID)

	// The new driver has only the dead task's port to hand out.
	_, port, _ := net.SplitHostPort(task.Address)
	p, _ := strconv.Atoi(port)
	d := newDriver(t, Options{StateDir: dir, PortMin: p, PortMax: p})
	tasks, err := d.List(t.Context())
	if err != nil || len(tasks) != 1 {
		t.Fatalf("List = %+v, %v", tasks, err)
	}
	got := tasks[0]
	if got.Running || got.Exit == nil || !strings.Contains(got.Exit.Reason, "while cutover was not watching") {
		t.Errorf("task that died unwatched = %+v (exit %+v)", got, got.Exit)
	}
	if _, err := d.Wait(t.Context(), "web-1"); err != nil {
		t.Errorf("Wait = %v", err)
	}

	again := start(t, d, appSpec(t, "web-2"))
	if again.Address != task.Address {
		t.Errorf("address = %s, want the dead task's %s", again.Address, task.Address)
	}
	if _, err := d.Stop(t.Context(), "web-2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(t.Context(), "web-1"); err != nil {
		t.Fatal(err)
	}
}

func TestReusedPIDIsNotAdopted(t *testing.T) {
	// A state file whose pid now belongs to another process (this test),
	// which started at another time.
	dir := t.TempDir()
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	st := taskState{ID: "old-1", PID: os.Getpid(), StartTicks: self.startTicks + 1, Port: 20000, StartedAt: time.Now()}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, Options{StateDir: dir})
	tasks, _ := d.List(t.Context())
	if len(tasks) != 1 || tasks[0].Running || tasks[0].Exit == nil {
		t.Fatalf("List = %+v, want old-1 exited", tasks)
	}
	if processRunning(os.Getpid()) == false {
		t.Fatal("the driver killed the process that reused the pid")
	}
}

func TestRemove(t *testing.T) {
	d := newDriver(t, Options{})
	start(t, d, appSpec(t, "web-1"))
	if err := d.Remove(t.Context(), "web-1"); err == nil || errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove of a running task = %v, want an error", err)
	}
	if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(t.Context(), "web-1"); err != nil {
		t.Fatal(err)
	}
	// The logs stay, for the app's recent output, until the sweep.
	if entries, _ := os.ReadDir(d.opts.StateDir); len(entries) != 1 || entries[0].Name() != "web-1.log" {
		t.Errorf("state dir holds %v after Remove, want only the log", entries)
	}
	if got := logs(t, d, "web-1", runtime.LogOptions{Tail: -1, Follow: true}); !strings.Contains(got, "listening on") {
		t.Errorf("Logs of a removed task = %q, want its output", got)
	}
	d.sweepLogs(time.Now().Add(-time.Hour))
	if entries, _ := os.ReadDir(d.opts.StateDir); len(entries) != 1 {
		t.Errorf("the sweep deleted a log written in the last hour")
	}
	d.sweepLogs(time.Now().Add(time.Second))
	if entries, _ := os.ReadDir(d.opts.StateDir); len(entries) != 0 {
		t.Errorf("state dir holds %v after the sweep, want nothing", entries)
	}
	if _, err := d.Logs(t.Context(), "web-1", runtime.LogOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Logs after the sweep = %v, want ErrNotFound", err)
	}
	if _, err := d.Wait(t.Context(), "web-1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait after Remove = %v, want ErrNotFound", err)
	}
	if err := d.Remove(t.Context(), "web-1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

func TestNotFound(t *testing.T) {
	d := newDriver(t, Options{})
	ctx := t.Context()
	_, stopErr := d.Stop(ctx, "nope", 0)
	_, waitErr := d.Wait(ctx, "nope")
	_, logsErr := d.Logs(ctx, "nope", runtime.LogOptions{})
	for name, err := range map[string]error{"Stop": stopErr, "Wait": waitErr, "Logs": logsErr, "Remove": d.Remove(ctx, "nope")} {
		if !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s of an unknown task = %v, want ErrNotFound", name, err)
		}
	}
}

func TestClosedDriver(t *testing.T) {
	d := newDriver(t, Options{})
	d.Close()
	if _, err := d.Start(t.Context(), appSpec(t, "web-1")); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
	if _, err := d.List(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close = %v, want ErrClosed", err)
	}
}

// TestTaskSurvivesCutoverKill kills (SIGKILL) a separate cutover process
// that started a task: the task keeps running and logging, and a new
// driver adopts it although it is not its child.
func TestTaskSurvivesCutoverKill(t *testing.T) {
	dir := t.TempDir()
	cutover := exec.Command(os.Args[0], "-test.run=^$")
	cutover.Env = append(os.Environ(), "PROCESS_TEST_FAKE_CUTOVER="+dir, "PROCESS_TEST_APP="+bins.httpapp)
	out, err := cutover.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cutover.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	var pid int
	if _, err := fmt.Sscanf(line, "started %d", &pid); err != nil {
		cutover.Process.Kill()
		cutover.Wait()
		t.Fatalf("fake cutover said %q", line)
	}
	trackProcess(t, pid)
	cutover.Process.Kill()
	cutover.Wait()

	d := newDriver(t, Options{StateDir: dir})
	tasks, err := d.List(t.Context())
	if err != nil || len(tasks) != 1 || !tasks[0].Running || tasks[0].PID != pid {
		t.Fatalf("List = %+v, %v; want web-1 running as pid %d", tasks, err, pid)
	}
	mustGet(t, tasks[0].Address, "/log?line=still-here")
	waitForLog(t, d, "web-1", "still-here")

	exit, err := d.Stop(t.Context(), "web-1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Not its parent, the driver cannot know the exit code.
	if exit.Reason != "stopped by SIGTERM" || exit.Code != -1 {
		t.Errorf("Stop = %+v, want stopped by SIGTERM with an unknown code", exit)
	}
	waitGone(t, pid)
	waitForLog(t, d, "web-1", "graceful shutdown")
}
