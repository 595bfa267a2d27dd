package process

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

// Stop sends SIGTERM to the task's process group, waits up to timeout
// (spec.StopTimeout when 0, default 30s) for the task to exit, then sends
// SIGKILL to the group. It returns the Exit; for a task that has already
// exited, that Exit.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) (runtime.Exit, error) {
	t, err := d.lookup(id)
	if err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, err)
	}
	if exit, ok := d.exitOf(t); ok {
		return exit, nil
	}
	if timeout <= 0 {
		timeout = t.st.Spec.StopTimeout
	}
	if timeout <= 0 {
		timeout = DefaultStopTimeout
	}

	d.log.Info("stopping task", "task", id, "timeout", timeout)
	if err := d.signal(t, unix.SIGTERM, "stopped by SIGTERM"); err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.done:
		exit, _ := d.exitOf(t)
		return exit, nil
	case <-timer.C:
	case <-ctx.Done():
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, ctx.Err())
	case <-d.ctx.Done():
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, ErrClosed)
	}

	d.log.Warn("task did not stop in time, killing it", "task", id, "timeout", timeout)
	if err := d.signal(t, unix.SIGKILL, fmt.Sprintf("killed after stop timeout %s", timeout)); err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, err)
	}
	select {
	case <-t.done:
		exit, _ := d.exitOf(t)
		return exit, nil
	case <-ctx.Done():
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, ctx.Err())
	case <-d.ctx.Done():
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, ErrClosed)
	}
}

// signal sends sig to t's process group unless its main process has
// already exited, and records reason as the reason of the coming exit.
func (d *Driver) signal(t *task, sig unix.Signal, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.exiting {
		return nil
	}
	t.stopReason = reason
	if err := killGroup(t.st.group(), sig); err != nil {
		return fmt.Errorf("sending %s to process group %d: %w", unix.SignalName(sig), t.st.group(), err)
	}
	if sig == unix.SIGKILL && t.st.group() != t.st.PID {
		return killGroup(t.st.PID, sig) // bwrap's outer process too
	}
	return nil
}
