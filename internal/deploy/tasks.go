package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// newTask adds a pending task to s and returns it; startTask starts it.
// Called with c.mu held.
func newTask(app string, s *taskSet) *task {
	s.started++
	var b [2]byte
	rand.Read(b[:])
	t := &task{
		id:    fmt.Sprintf("%s-r%d-%d-%s", app, s.rev.Number, s.started, hex.EncodeToString(b[:])),
		state: store.TaskPending,
	}
	s.tasks = append(s.tasks, t)
	return t
}

// startTask starts t, registers it with the proxy and watches it until it
// exits. Write-ahead: the task is recorded pending before the runtime
// starts it, so a restart finds every task cutover may have started.
func (c *Controller) startTask(ctx context.Context, a *appState, s *taskSet, t *task) {
	rec := store.Task{ID: t.id, App: a.name, Revision: s.rev.ID, TaskSet: s.color, State: store.TaskPending, DesiredState: store.TaskRunning}
	if err := c.store.PutTask(ctx, rec); err != nil {
		c.dropTask(s, t, nil)
		if ctx.Err() != nil {
			return // cutover is stopping
		}
		// Not recorded, so not started (write-ahead); the store refusing
		// is no task failure, but the next start backs off all the same.
		c.log.Error("recording task before starting it", "task", t.id, "err", err)
		c.mu.Lock()
		s.backOff(fmt.Errorf("recording task %s: %w", t.id, err))
		c.mu.Unlock()
		return
	}
	c.writes.storeWorks()
	spec, err := c.openEnv(taskSpec(t.id, s))
	var rt runtime.Task
	if err == nil {
		rt, err = c.driver.Start(ctx, spec)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // cutover is stopping; the next Run sorts out the pending task
		}
		c.log.Warn("task failed to start", "task", t.id, "err", err)
		c.recordStopped(ctx, t.id, runtime.Exit{Code: -1, Reason: err.Error(), At: time.Now()})
		c.dropTask(s, t, fmt.Errorf("starting task %s: %w", t.id, err))
		return
	}
	handle := strconv.Itoa(rt.PID)
	if rt.Container != "" {
		handle = rt.Container
	}
	c.updateTask(ctx, t.id, "recording started task", func(st *store.Task) {
		st.State, st.Address, st.Handle, st.Driver, st.StartedAt = store.TaskRunning, rt.Address, handle, rt.Driver, rt.StartedAt
	})
	c.mu.Lock()
	t.addr, t.state = rt.Address, store.TaskRunning
	c.mu.Unlock()
	// Register once the task accepts connections: its first health check
	// then passes, instead of failing and costing a whole interval.
	waitListening(ctx, rt.Address, listenWait)
	if err := c.applyProxy(ctx); err != nil {
		c.log.Error("registering task", "task", t.id, "err", err)
	}
	c.watchTask(ctx, a, s, t)
}

// listenWait bounds how long a new task may take to accept connections
// before it is registered anyway; its health checks then judge it.
const listenWait = 10 * time.Second

// waitListening returns once addr accepts a TCP connection, ctx ends or
// limit passes, whichever comes first.
func waitListening(ctx context.Context, addr string, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// watchTask waits for t to exit. An exit the scheduler did not ask for is
// a task failure: the task is deregistered and counted, and the scheduler
// replaces it.
func (c *Controller) watchTask(ctx context.Context, a *appState, s *taskSet, t *task) {
	exit, err := c.driver.Wait(ctx, t.id)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		exit = runtime.Exit{Code: -1, Reason: "lost: " + err.Error(), At: time.Now()}
	}
	c.mu.Lock()
	if t.stopping {
		c.mu.Unlock()
		return // stopTask owns it
	}
	t.stopping = true
	c.mu.Unlock()
	c.log.Warn("task exited", "app", a.name, "task", t.id, "reason", exit.Reason)
	c.recordStopped(ctx, t.id, exit)
	c.dropTask(s, t, fmt.Errorf("task %s exited: %s", t.id, exit.Reason))
	if err := c.applyProxy(ctx); err != nil {
		c.log.Error("deregistering exited task", "task", t.id, "err", err)
	}
	c.driver.Remove(ctx, t.id)
}

// stopTask takes t out of service in the safe order: deregistered (the
// store says draining first), drained, then stopped. t.stopping is set by
// the caller.
func (c *Controller) stopTask(ctx context.Context, a *appState, s *taskSet, t *task) {
	c.updateTask(ctx, t.id, "recording draining task", func(st *store.Task) {
		st.State, st.DesiredState = store.TaskDraining, store.TaskStopped
	})
	if err := c.applyProxy(ctx); err != nil {
		c.log.Error("deregistering task", "task", t.id, "err", err)
	}
	c.mu.Lock()
	delay := a.cfg.Deploy.DeregistrationDelay
	c.mu.Unlock()
	if t.addr != "" {
		wait := time.NewTimer(delay + 2*time.Second)
		select {
		case <-c.router.Drained(groupName(a.name, s.color), t.addr):
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
	}
	if ctx.Err() != nil {
		return // resumed as a draining task after a restart
	}
	exit, err := c.driver.Stop(ctx, t.id, 0)
	if ctx.Err() != nil {
		return // still draining in the store: a restart stops it
	}
	if err != nil {
		exit = runtime.Exit{Code: -1, Reason: "stopping: " + err.Error(), At: time.Now()}
	}
	c.recordStopped(ctx, t.id, exit)
	c.dropTask(s, t, nil)
	c.driver.Remove(ctx, t.id)
}

// recordStopped marks a task stopped in the store with how it ended; a
// task already recorded stopped keeps its first ending. A refused write
// is retried (see writeback.go).
func (c *Controller) recordStopped(ctx context.Context, id string, exit runtime.Exit) {
	raw, _ := json.Marshal(exit)
	c.updateTask(context.WithoutCancel(ctx), id, "recording stopped task", func(st *store.Task) {
		if st.State == store.TaskStopped {
			return
		}
		st.State, st.DesiredState, st.Exit = store.TaskStopped, store.TaskStopped, raw
		if !exit.At.IsZero() {
			st.StoppedAt = exit.At
		}
	})
}

// dropTask forgets t; a non-nil failure counts as a task failure of s,
// which delays the set's next start (crash-loop back-off).
func (c *Controller) dropTask(s *taskSet, t *task, failure error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.stopping = true
	for i, x := range s.tasks {
		if x == t {
			s.tasks = append(s.tasks[:i], s.tasks[i+1:]...)
			break
		}
	}
	if failure != nil {
		s.fail(failure)
	}
}

// fail counts a task failure (the circuit breaker's count) and backs off.
// Called with c.mu held.
func (s *taskSet) fail(err error) {
	s.failures++
	s.backOff(err)
}

// lastFailure ends a circuit breaker's error with the set's latest task
// failure, if one is still on record (a back-off reset clears it).
// Called with c.mu held.
func (s *taskSet) lastFailure() string {
	if s.lastErr == nil {
		return ""
	}
	return "; the last: " + s.lastErr.Error()
}

// backOff delays the set's next start after another failure in a row:
// 1s, 2s, 4s ... 1m. Called with c.mu held.
func (s *taskSet) backOff(err error) {
	s.consecutive++
	s.lastErr = err
	s.notBefore = time.Now().Add(backoff(s.consecutive, time.Second, maxRestartDelay))
}

// taskSpec says how to run a task of s.
func taskSpec(id string, s *taskSet) runtime.TaskSpec {
	cfg := s.cfg
	spec := runtime.TaskSpec{
		ID:          id,
		App:         cfg.Name,
		Revision:    s.rev.ID,
		Command:     cfg.Service.Command,
		Env:         withVars(cfg.Service.Env, cfg.Service.ConfigVars),
		Port:        cfg.Service.Port,
		StopTimeout: cfg.Service.StopTimeout,
		Labels:      map[string]string{"cutover.task-set": s.color},
		Resources:   runtime.Resources{MemoryBytes: cfg.Service.Memory, CPUs: cfg.Service.CPUs},
	}
	switch cfg.Service.Runtime {
	case config.RuntimeDocker, config.RuntimeSwarm:
		spec.Image = s.rev.Artifact
		if spec.Image == "" {
			spec.Image = cfg.Service.Image
		}
		if cfg.Service.Runtime == config.RuntimeSwarm {
			spec.Labels[runtime.LabelRuntime] = runtime.RuntimeSwarm
			for i, c := range cfg.Service.Placement {
				spec.Labels[fmt.Sprintf("%s.%d", runtime.LabelConstraint, i)] = c
			}
		}
		return spec
	}
	spec.Dir = releaseDir(cfg, s.rev.Artifact)
	return spec
}

// releaseDir is where a process task runs: the revision's artifact, else
// the configured release directory, else the app's directory; relative
// paths resolve against the app's directory.
func releaseDir(cfg config.App, artifact string) string {
	dir := artifact
	if dir == "" {
		dir = cfg.Service.Release
	}
	if dir == "" || filepath.IsAbs(dir) {
		if dir == "" {
			return cfg.Dir
		}
		return dir
	}
	return filepath.Join(cfg.Dir, dir)
}
