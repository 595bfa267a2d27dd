package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// stepRelease is the lifecycle event of the release command (Heroku's
// release phase): blue/green runs it after Install, before AfterInstall
// and any traffic; rolling before RollingUpdate starts its first task.
const stepRelease = "Release"

// releaseTail is how much of the release command's output its lifecycle
// event keeps; all of it is in ReleaseLogPath.
const releaseTail = 4 << 10

// ReleaseLogPath is where the output of a deployment's release command
// is kept.
func ReleaseLogPath(dataDir, deploymentID string) string {
	return filepath.Join(dataDir, "deployments", deploymentID, "release.log")
}

// release runs the deployment's release command as a one-off task of the
// new revision, within its timeout. A non-zero exit, a timeout or a task
// that cannot start fails the event, and so the deployment, before any
// traffic moved. The event's message ends with the last of its output.
func (c *Controller) release(ctx context.Context, r *run, _ time.Time) (string, string, error) {
	command := r.cfg.Deploy.Release
	if len(command) == 0 {
		return store.LifecycleSkipped, "no release command", nil
	}
	timeout := r.cfg.Deploy.ReleaseTimeout
	if timeout <= 0 {
		timeout = config.DefaultReleaseTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, closeLog := c.releaseLog(r.d.ID)
	defer closeLog()
	tail := &tailBuffer{max: releaseTail}
	fmt.Fprintf(out, "=== %s release: %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(command, " "))

	started := time.Now()
	o, err := c.startOneOff(tctx, r.rev, r.cfg, OneOffRelease, RunOptions{Command: command})
	if err != nil {
		fmt.Fprintf(out, "=== Failed: %v\n", err)
		return "", "", fmt.Errorf("release command: %w", err)
	}
	defer o.Remove(ctx)
	code, err := c.followRelease(tctx, o, io.MultiWriter(out, tail))
	took := time.Since(started).Round(100 * time.Millisecond)
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("release command ended: %w", ctx.Err()) // stop, rollback or cutover stopping
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("release command timed out after %s (deploy.release_timeout)", timeout)
	case err != nil:
		err = fmt.Errorf("release command: %w", err)
	case code != 0:
		err = fmt.Errorf("release command exited with code %d after %s", code, took)
	}
	output := tail.String()
	if err != nil {
		fmt.Fprintf(out, "=== Failed: %v\n", err)
		return "", "", fmt.Errorf("%w; output:\n%s", err, output)
	}
	fmt.Fprintf(out, "=== Succeeded in %s\n", took)
	return store.LifecycleSucceeded, fmt.Sprintf("release command exited 0 in %s; output:\n%s", took, output), nil
}

// followRelease copies o's output to w until it exits and returns its
// exit code. When ctx ends first, o is stopped.
func (c *Controller) followRelease(ctx context.Context, o *OneOff, w io.Writer) (int, error) {
	if err := o.Output(ctx, w); err != nil && ctx.Err() == nil {
		c.log.Warn("reading the release command's output", "task", o.ID(), "err", err)
	}
	exit, err := o.Wait(ctx)
	if err != nil {
		o.Stop(context.WithoutCancel(ctx), 5*time.Second)
		return -1, err
	}
	return exit.Code, nil
}

// releaseLog opens the deployment's release log for appending; without
// a data dir, output is kept only in the lifecycle event.
func (c *Controller) releaseLog(deploymentID string) (io.Writer, func()) {
	if c.dataDir == "" {
		return io.Discard, func() {}
	}
	path := ReleaseLogPath(c.dataDir, deploymentID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		c.log.Warn("creating release log", "err", err)
		return io.Discard, func() {}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		c.log.Warn("opening release log", "err", err)
		return io.Discard, func() {}
	}
	return f, func() { f.Close() }
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf bytes.Buffer
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimRight(t.buf.String(), "\n")
	if t.cut {
		return "…" + s
	}
	return s
}

// releaseBeforeRolling runs a rolling update's release command before
// the update starts its first task. It reports whether the update may go
// on; when the release failed or the deployment was stopped meanwhile,
// it ends the deployment: no task was replaced.
func (c *Controller) releaseBeforeRolling(ctx context.Context, r *run) (bool, error) {
	if len(r.cfg.Deploy.Release) == 0 {
		return true, nil
	}
	if err := c.runSteps(ctx, r, []step{{stepRelease, c.release, false}}); err != nil {
		return false, err
	}
	ab := c.aborted(r)
	if ab == nil {
		return true, nil
	}
	return false, c.finish(ctx, r, ab.Status, ab.Reason)
}

// releaseReason is how a failed release command ends the deployment: the
// failure and the last line of its output, on one line for history.
func releaseReason(reason string) string {
	first, output, _ := strings.Cut(reason, "\n")
	first = strings.TrimSuffix(first, "; output:")
	lines := strings.Split(output, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "=== ") {
			return first + "; last output: " + l
		}
	}
	return first
}
