package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// One-off tasks are a deployment's release command and `cutover run`, as
// ECS's RunTask and Heroku's one-off dynos: a command run with a
// revision's artifact (release directory or image), configuration and
// environment, on the app's runtime and sandboxed like its tasks, but in
// no task set. The proxy never routes to one and the scheduler neither
// counts nor replaces it. It is recorded in the store with the task set
// TaskSetOneOff, so `cutover tasks` lists it, and its output is the
// runtime's log of it until the task is removed. A one-off task does not
// survive a restart of cutover: Run stops the ones it finds running.
const (
	// TaskSetOneOff is the store's TaskSet of one-off tasks.
	TaskSetOneOff = "one-off"
	// LabelOneOff marks a one-off task in the runtime; its value is
	// OneOffRelease or OneOffRun.
	LabelOneOff   = "cutover.one-off"
	OneOffRelease = "release"
	OneOffRun     = "run"
)

// detachedRetention is how long a detached one-off task's log is kept
// after it exited, for `cutover logs`.
const detachedRetention = time.Hour

// RunOptions say what RunTask runs.
type RunOptions struct {
	Command []string
	// Stdin, when not nil, is the task's standard input (the read end of
	// a pipe; RunTask closes it once the task has it). Process runtime
	// only.
	Stdin *os.File
	// Detach keeps the task's log for detachedRetention after it exits,
	// for `cutover logs`; an attached task's caller removes it.
	Detach bool
}

// OneOff is a one-off task that was started.
type OneOff struct {
	id   string
	c    *Controller
	done chan struct{} // closed once exit is set
	exit runtime.Exit
	// secrets are the values of its secret config vars, masked in Output.
	secrets []string
}

// RunTask starts a one-off task of the app's current revision. Follow its
// output with Logs, its end with Wait, and Remove it once done.
func (c *Controller) RunTask(ctx context.Context, app string, opts RunOptions) (*OneOff, error) {
	if opts.Stdin != nil {
		defer opts.Stdin.Close() // the task has its own copy
	}
	if len(opts.Command) == 0 {
		return nil, fmt.Errorf("%w: running a task of %s: no command; give one after --, e.g. cutover run %s -- node migrate.js", store.ErrInvalid, app, app)
	}
	if err := c.waitStarted(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	a, ok := c.apps[app]
	current := ""
	if ok {
		current = a.current
	}
	c.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("running a task of %s: %w: no such app", app, store.ErrNotFound)
	case current == "":
		return nil, fmt.Errorf("running a task of %s: %w: the app has no running revision; deploy it first", app, store.ErrConflict)
	}
	rev, err := c.store.GetRevision(ctx, current)
	if err != nil {
		return nil, fmt.Errorf("running a task of %s: %w", app, err)
	}
	cfg := revisionConfig(rev, a.cfg)
	if cfg.Service.Runtime == config.RuntimeSwarm {
		return nil, fmt.Errorf("running a task of %s: %w: one-off tasks are not supported on the swarm runtime yet", app, store.ErrConflict)
	}
	if opts.Stdin != nil && cfg.Service.Runtime != config.RuntimeProcess && cfg.Service.Runtime != "" {
		return nil, fmt.Errorf("running a task of %s: %w: stdin is attached on the process runtime only; run it with --no-stdin", app, store.ErrConflict)
	}
	return c.startOneOff(ctx, rev, cfg, OneOffRun, opts)
}

// startOneOff records and starts a one-off task of rev with cfg, and
// watches it until it exits.
func (c *Controller) startOneOff(ctx context.Context, rev store.Revision, cfg config.App, kind string, opts RunOptions) (*OneOff, error) {
	var b [3]byte
	rand.Read(b[:])
	id := fmt.Sprintf("%s-r%d-%s-%s", cfg.Name, rev.Number, kind, hex.EncodeToString(b[:]))
	spec := taskSpec(id, &taskSet{rev: rev, cfg: cfg, color: TaskSetOneOff})
	spec.Command, spec.OneOff, spec.Stdin = opts.Command, true, opts.Stdin
	spec.Labels[LabelOneOff] = kind
	sealed := spec.Env
	spec, err := c.openEnv(spec)
	if err != nil {
		return nil, fmt.Errorf("starting one-off task: %w", err)
	}
	rec := store.Task{ID: id, App: cfg.Name, Revision: rev.ID, TaskSet: TaskSetOneOff, State: store.TaskPending, DesiredState: store.TaskStopped}
	if err = c.store.PutTask(ctx, rec); err != nil {
		return nil, fmt.Errorf("recording one-off task %s: %w", id, err)
	}
	rt, err := c.driver.Start(ctx, spec)
	if err != nil {
		c.recordStopped(ctx, id, runtime.Exit{Code: -1, Reason: err.Error(), At: time.Now()})
		return nil, fmt.Errorf("starting one-off task: %w", err)
	}
	handle := strconv.Itoa(rt.PID)
	if rt.Container != "" {
		handle = rt.Container
	}
	c.updateTask(ctx, id, "recording started one-off task", func(st *store.Task) {
		st.State, st.Handle, st.Driver, st.StartedAt = store.TaskRunning, handle, rt.Driver, rt.StartedAt
	})
	c.event(ctx, "task.one_off_started", cfg.Name, "", map[string]any{"task": id, "kind": kind, "revision": rev.ID, "command": opts.Command})
	o := &OneOff{id: id, c: c, done: make(chan struct{}), secrets: openedValues(sealed, spec.Env)}
	c.mu.Lock()
	c.goLocked(func(ctx context.Context) { c.watchOneOff(ctx, o, opts.Detach) })
	c.mu.Unlock()
	return o, nil
}

// watchOneOff records how o ends; a detached task's log is removed
// detachedRetention later.
func (c *Controller) watchOneOff(ctx context.Context, o *OneOff, detached bool) {
	exit, err := c.driver.Wait(ctx, o.id)
	if ctx.Err() != nil {
		return // cutover is stopping; Run stops the task when it resumes
	}
	if err != nil {
		exit = runtime.Exit{Code: -1, Reason: "lost: " + err.Error(), At: time.Now()}
	}
	c.recordStopped(ctx, o.id, exit)
	o.exit = exit
	close(o.done)
	if detached && sleep(ctx, detachedRetention) {
		c.driver.Remove(context.WithoutCancel(ctx), o.id)
	}
}

// ID is the task's id.
func (o *OneOff) ID() string { return o.id }

// Output copies the task's output (stdout and stderr), its secret
// values masked, to w from its start until it exits or ctx ends.
func (o *OneOff) Output(ctx context.Context, w io.Writer) error {
	rc, err := o.c.driver.Logs(ctx, o.id, runtime.LogOptions{Tail: -1, Follow: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	m := newMasker(w, o.secrets)
	_, err = io.Copy(m, rc)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// Wait returns how the task ended, once it has, or ctx's error.
func (o *OneOff) Wait(ctx context.Context) (runtime.Exit, error) {
	select {
	case <-o.done:
		return o.exit, nil
	case <-ctx.Done():
		return runtime.Exit{}, ctx.Err()
	}
}

// Stop stops the task: SIGTERM, then SIGKILL after grace. It returns
// once the task has exited.
func (o *OneOff) Stop(ctx context.Context, grace time.Duration) {
	if _, err := o.c.driver.Stop(ctx, o.id, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		o.c.log.Warn("stopping one-off task", "task", o.id, "err", err)
	}
}

// Remove deletes what the runtime keeps of the exited task, its log too.
func (o *OneOff) Remove(ctx context.Context) {
	o.c.driver.Remove(context.WithoutCancel(ctx), o.id)
}

// openedValues returns the values of opened whose value in sealed was
// sealed: the secrets.
func openedValues(sealed, opened map[string]string) []string {
	var out []string
	for k, v := range sealed {
		if store.IsSealed(v) && opened[k] != v {
			out = append(out, opened[k])
		}
	}
	return out
}
