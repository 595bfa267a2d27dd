package process

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

// pollInterval is how often a task's process is looked up in /proc when
// no pidfd can be watched.
const pollInterval = 250 * time.Millisecond

// adopt takes over a task found in the state directory: a running one is
// watched again, one that died meanwhile is recorded as exited.
func (d *Driver) adopt(st taskState) {
	t := &task{st: st, done: make(chan struct{})}
	if st.Exit != nil {
		t.exiting = true
		close(t.done)
	}
	d.mu.Lock()
	d.tasks[st.ID] = t
	d.mu.Unlock()
	if st.Exit != nil {
		return
	}

	pidfd := -1
	if fd, err := unix.PidfdOpen(st.PID, unix.PIDFD_NONBLOCK); err == nil {
		pidfd = fd
	}
	// Checked after opening the pidfd: if the pid was reused before it was
	// opened, the start time tells.
	if !alive(st.PID, st.StartTicks) {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		d.ended(t, true)
		return
	}

	d.mu.Lock()
	d.ports[st.Port] = st.ID
	d.goLocked(func() { d.watch(t, pidfd) })
	d.mu.Unlock()
	d.log.Info("adopted running task", "task", st.ID, "pid", st.PID, "address", address(st.Port))
}

// watch waits for the task's main process to exit and records the exit.
// It returns early, leaving the task running, when the driver is closed.
// It owns pidfd (-1 when there is none).
func (d *Driver) watch(t *task, pidfd int) {
	if !waitExit(d.ctx, t.st.PID, t.st.StartTicks, pidfd) {
		return
	}
	d.ended(t, false)
}

// ended records the exit of a task whose main process has exited. When
// unwatched, the exit happened while no driver was watching.
func (d *Driver) ended(t *task, unwatched bool) {
	d.mu.Lock()
	t.exiting = true // Stop must not signal a pid that is about to be reaped
	pid, ticks := t.st.PID, t.st.StartTicks
	d.mu.Unlock()

	// Kill what is left of the group before reaping: until then the
	// zombie keeps its pid, and so the pgid, from being reused.
	if !reusedPID(pid, ticks) {
		if err := killGroup(pid, unix.SIGKILL); err != nil {
			d.log.Warn("cannot kill rest of task's process group", "task", t.st.ID, "pgid", pid, "err", err)
		}
	}
	exit := runtime.Exit{Code: -1, Reason: "exited; exit status unknown (task adopted from an earlier cutover process)"}
	if ws, ok := reap(pid, ticks); ok {
		exit = exitFromStatus(ws)
	}
	if unwatched {
		if exit.Code == -1 && exit.Signal == "" {
			exit.Reason = "exited"
		}
		exit.Reason += " while cutover was not watching"
	}
	d.finish(t, exit)
}

// finish records exit in the task's state file and in memory, frees its
// port and wakes everyone waiting for it.
func (d *Driver) finish(t *task, exit runtime.Exit) {
	exit.At = time.Now()
	d.mu.Lock()
	if t.stopReason != "" {
		exit.Reason = t.stopReason
	}
	st := t.st
	d.mu.Unlock()

	st.Exit = &exit
	if err := writeState(d.opts.StateDir, st); err != nil {
		d.log.Error("cannot record task exit", "task", st.ID, "err", err)
	}

	d.mu.Lock()
	t.st.Exit = &exit
	if d.ports[st.Port] == st.ID {
		delete(d.ports, st.Port)
	}
	close(t.done)
	d.mu.Unlock()

	if st.Cgroup != "" {
		// Best effort: fails while killed processes are still going away;
		// Remove tries again.
		os.Remove(st.Cgroup)
	}
	d.log.Info("task exited", "task", st.ID, "pid", st.PID, "code", exit.Code, "signal", exit.Signal, "reason", exit.Reason)
}

// waitExit blocks until the process pid that started at ticks exits, and
// reports false when ctx ends first. It closes pidfd.
func waitExit(ctx context.Context, pid int, ticks uint64, pidfd int) bool {
	if pidfd >= 0 {
		exited, err := waitPidfd(ctx, pidfd)
		if exited || ctx.Err() != nil || err == nil {
			return exited
		}
		// The pidfd cannot be polled here: fall back to /proc.
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for alive(pid, ticks) {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// waitPidfd waits until pidfd becomes readable, which it does when its
// process exits. It waits in Go's netpoller, so no thread blocks, and
// returns when ctx ends. It closes pidfd.
func waitPidfd(ctx context.Context, pidfd int) (exited bool, err error) {
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()

	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		exited = err == nil && n > 0
		return exited
	})
	return exited, err
}
