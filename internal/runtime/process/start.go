package process

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox"
)

// startFailLines is how many lines of output a failed start reports.
const startFailLines = 20

// Start starts a task and returns once it has stayed up for
// Options.StartCheck. A task that exits earlier is runtime.ErrStartFailed,
// and the driver forgets it. When ctx ends first, the task is killed.
func (d *Driver) Start(ctx context.Context, spec runtime.TaskSpec) (runtime.Task, error) {
	if err := validateSpec(spec); err != nil {
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	port, err := d.reserve(spec.ID)
	if err != nil {
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	t, err := d.spawn(spec, port)
	if err != nil {
		d.release(spec.ID, port)
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	if spec.OneOff {
		d.mu.Lock()
		defer d.mu.Unlock()
		return t.info(), nil // its exit, however soon, is its result
	}
	return d.awaitStarted(ctx, t)
}

// spawn starts the task's process on port, records its state and starts
// watching it.
func (d *Driver) spawn(spec runtime.TaskSpec, port int) (*task, error) {
	out, err := d.openOutput(spec.ID)
	if err != nil {
		return nil, err
	}
	defer out.close() // the task has its own descriptors

	cmd := d.command(spec, port, out)
	cgroupDir, cgroupFD := d.limitResources(spec)
	if cgroupFD >= 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = cgroupFD
		defer unix.Close(cgroupFD)
	}

	group, err := d.startCmd(cmd, spec)
	if err != nil {
		if cgroupDir != "" {
			os.Remove(cgroupDir)
		}
		return nil, fmt.Errorf("%w: %w", runtime.ErrStartFailed, err)
	}
	pid := cmd.Process.Pid
	// Nobody reaps the child before the watcher does, so its pid stays
	// valid for the pidfd and /proc even if it has already exited.
	pidfd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		pidfd = -1
	}
	cmd.Process.Release()
	ps, err := readProcStat(pid)
	if err != nil {
		d.discard(pid, pidfd)
		return nil, fmt.Errorf("reading start time of pid %d: %w", pid, err)
	}

	st := taskState{
		ID:         spec.ID,
		PID:        pid,
		Group:      group,
		StartTicks: ps.startTicks,
		Port:       port,
		Spec:       spec,
		StartedAt:  time.Now(),
		Cgroup:     cgroupDir,
	}
	if err := writeState(d.opts.StateDir, st); err != nil {
		d.discard(pid, pidfd)
		return nil, err
	}

	t := &task{st: st, done: make(chan struct{}), outputDone: out.done}
	d.mu.Lock()
	delete(d.starting, spec.ID)
	d.tasks[spec.ID] = t
	if !d.goLocked(func() { d.watch(t, pidfd) }) && pidfd >= 0 {
		// Closed meanwhile: the task runs on, for the next driver to adopt.
		unix.Close(pidfd)
	}
	d.mu.Unlock()
	d.log.Info("task started", "task", spec.ID, "pid", pid, "address", address(port))
	return t, nil
}

// command is the task's command, writing to out.
func (d *Driver) command(spec runtime.TaskSpec, port int, out taskOutput) *exec.Cmd {
	cmd := exec.Command(spec.Command[0], spec.Command[1:]...)
	cmd.Dir = spec.Dir
	base := os.Environ()
	if d.opts.Sandbox.Mode() != sandbox.ModeOff {
		base = sandbox.Environ(base, "/tmp")
	}
	cmd.Env = taskEnv(spec, port, base)
	cmd.Stdout = out.stdout
	cmd.Stderr = out.stderr
	if spec.Stdin != nil {
		cmd.Stdin = spec.Stdin // an *os.File: the child gets it directly
	}
	// Its own session and process group, and no Pdeathsig: the task
	// outlives cutover, and Stop can signal all its processes at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// discard kills a process that was started but could not be recorded.
func (d *Driver) discard(pid, pidfd int) {
	killGroup(pid, unix.SIGKILL)
	if pidfd >= 0 {
		unix.Close(pidfd)
	}
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
}

// awaitStarted waits Options.StartCheck for t to prove it keeps running.
func (d *Driver) awaitStarted(ctx context.Context, t *task) (runtime.Task, error) {
	id := t.st.ID
	timer := time.NewTimer(d.opts.StartCheck)
	defer timer.Stop()
	select {
	case <-t.done:
		return runtime.Task{}, d.startFailed(t)
	case <-ctx.Done():
		d.abort(t)
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", id, ctx.Err())
	case <-d.ctx.Done():
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", id, ErrClosed)
	case <-timer.C:
	}
	select {
	case <-t.done: // exited just as the check ended: still a failed start
		return runtime.Task{}, d.startFailed(t)
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return t.info(), nil
}

// startFailed forgets t, which exited during the start check, and returns
// an error with its exit and last output.
func (d *Driver) startFailed(t *task) error {
	exit, _ := d.exitOf(t)
	outputDone(d.ctx, t)
	output, err := lastLines(logPath(d.opts.StateDir, t.st.ID), startFailLines)
	if err != nil {
		output = []byte(fmt.Sprintf("(cannot read log: %v)", err))
	}
	d.forget(t)
	return fmt.Errorf("starting task %s: %w: %s within %s; last output:\n%s",
		t.st.ID, runtime.ErrStartFailed, exit.Reason, d.opts.StartCheck, output)
}

// abort kills t, whose start was cancelled, and forgets it.
func (d *Driver) abort(t *task) {
	d.signal(t, unix.SIGKILL, "start cancelled")
	select {
	case <-t.done:
		d.forget(t)
	case <-d.ctx.Done():
	}
}

// forget drops an exited task and its files.
func (d *Driver) forget(t *task) {
	d.mu.Lock()
	delete(d.tasks, t.st.ID)
	st := t.st
	d.mu.Unlock()
	if err := d.deleteFiles(st); err != nil {
		d.log.Warn("cannot delete files of failed task", "task", st.ID, "err", err)
	}
}

// limitResources creates a cgroup with the spec's limits and returns its
// directory and an open descriptor for clone3, or "" and -1 when there are
// no limits or they cannot be applied.
func (d *Driver) limitResources(spec runtime.TaskSpec) (dir string, fd int) {
	if spec.Resources == (runtime.Resources{}) {
		return "", -1
	}
	if d.cg == nil {
		d.log.Warn("resource limits not applied", "task", spec.ID, "reason", d.cgErr)
		return "", -1
	}
	dir, fd, err := d.cg.create(spec.ID, spec.Resources)
	if err != nil {
		d.log.Warn("resource limits not applied", "task", spec.ID, "reason", err)
		return "", -1
	}
	return dir, fd
}

// taskEnv returns the environment of a task: the inherited part of
// cutover's environment base, then spec.Env, then the driver's variables.
func taskEnv(spec runtime.TaskSpec, port int, base []string) []string {
	env := make(map[string]string)
	for _, kv := range runtime.InheritedEnv(base) {
		name, value, _ := strings.Cut(kv, "=")
		env[name] = value
	}
	if env["PATH"] == "" {
		env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	maps.Copy(env, spec.Env)
	env["PORT"] = strconv.Itoa(port)
	env["CUTOVER_TASK_ID"] = spec.ID
	env["CUTOVER_APP"] = spec.App
	env["CUTOVER_REVISION"] = spec.Revision

	out := make([]string, 0, len(env))
	for _, name := range slices.Sorted(maps.Keys(env)) {
		out = append(out, name+"="+env[name])
	}
	return out
}
