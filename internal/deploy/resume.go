package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// resumed is what Run starts once the proxy serves again.
type resumed struct {
	runs   []*run
	watch  []adopted    // re-adopted tasks to watch
	stale  []store.Task // tasks to stop: recorded pending or draining
	strays []string     // driver tasks of known apps the store does not list as live
}

type adopted struct {
	a *appState
	s *taskSet
	t *task
}

// resume rebuilds every app from the store and the runtime, then applies
// the proxy configuration at once, so production serves the weights the
// store recorded before anything else happens:
//
//   - a live task the runtime still runs is re-adopted, registered with
//     AssumeHealthy when the store says it was healthy;
//   - a live task the runtime no longer runs is recorded stopped;
//   - a task recorded pending (its start may not have finished) or
//     draining (its stop had begun) is stopped;
//   - a running task of a known app that the store does not list as
//     live (started, never recorded) is stopped.
func (c *Controller) resume(ctx context.Context) (resumed, error) {
	var out resumed
	apps, err := c.store.ListApps(ctx)
	if err != nil {
		return out, fmt.Errorf("resuming: %w", err)
	}
	running, err := c.driver.List(ctx)
	if err != nil {
		return out, fmt.Errorf("resuming: listing tasks: %w", err)
	}
	byID := map[string]runtime.Task{}
	for _, t := range running {
		byID[t.ID] = t
	}
	active, err := c.store.ActiveDeployments(ctx)
	if err != nil {
		return out, fmt.Errorf("resuming: %w", err)
	}
	activeByApp := map[string]store.Deployment{}
	for _, d := range active {
		activeByApp[d.App] = d
	}

	known := map[string]bool{}
	live := map[string]bool{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sa := range apps {
		a, err := c.resumeApp(ctx, sa, byID, &out)
		if err != nil {
			// The other apps still serve; this one's tasks are left alone.
			c.log.Error("cannot resume app; leaving its tasks alone", "app", sa.Name, "err", err)
			continue
		}
		known[sa.Name] = true
		for _, s := range a.sets {
			for _, t := range s.tasks {
				live[t.id] = true
			}
		}
		for _, t := range out.stale {
			live[t.ID] = true
		}
		if d, ok := activeByApp[sa.Name]; ok {
			c.resumeDeployment(ctx, a, d, &out)
		}
		c.apps[sa.Name] = a
	}
	for _, t := range running {
		if known[t.App] && !live[t.ID] {
			out.strays = append(out.strays, t.ID)
		}
	}
	if cfg := buildProxyConfig(c.apps); len(cfg.Listeners) > 0 {
		if err := c.router.Apply(ctx, cfg); err != nil {
			return out, fmt.Errorf("resuming: configuring the proxy: %w", err)
		}
	}
	return out, nil
}

// resumeDeployment picks up d, the active deployment of a, as a run to
// start; one that cannot be resumed is ended Failed.
func (c *Controller) resumeDeployment(ctx context.Context, a *appState, d store.Deployment, out *resumed) {
	r, err := c.resumeRun(ctx, a, d)
	if err != nil {
		c.log.Error("cannot resume deployment; ending it Failed", "deployment", d.ID, "err", err)
		c.store.UpdateDeployment(ctx, d.ID, func(d *store.Deployment) error {
			d.Status, d.Error = store.DeploymentFailed, "cutover restarted and could not resume it: "+err.Error()
			return nil
		})
		return
	}
	out.runs = append(out.runs, r)
}

func (c *Controller) resumeApp(ctx context.Context, sa store.App, byID map[string]runtime.Task, out *resumed) (*appState, error) {
	var cfg config.App
	if err := json.Unmarshal(sa.Spec, &cfg); err != nil {
		return nil, fmt.Errorf("decoding its configuration: %w", err)
	}
	a := &appState{name: sa.Name, cfg: cfg, routed: cfg.Listeners, current: sa.CurrentRevision, color: colorBlue}
	if err := c.resumeMaintenance(ctx, a); err != nil {
		return nil, err
	}
	tasks, err := c.store.ListTasks(ctx, store.TaskFilter{App: sa.Name, Live: true})
	if err != nil {
		return nil, err
	}
	for _, st := range tasks {
		rt, ok := byID[st.ID]
		switch {
		case !ok || !rt.Running:
			exit := runtime.Exit{Code: -1, Reason: "gone while cutover was not running", At: time.Now()}
			if ok && rt.Exit != nil {
				exit = *rt.Exit
			}
			c.recordStopped(ctx, st.ID, exit)
			continue
		case st.State == store.TaskPending || st.State == store.TaskDraining, st.TaskSet == TaskSetOneOff:
			// A one-off task lost its caller (and a release is run again).
			out.stale = append(out.stale, st)
			continue
		}
		s, err := c.resumeSet(ctx, a, st.Revision, st.TaskSet)
		if err != nil {
			return nil, err
		}
		addr := st.Address
		if addr == "" {
			addr = rt.Address
		}
		t := &task{id: st.ID, addr: addr, state: st.State, assumeHealthy: st.State == store.TaskHealthy}
		s.tasks = append(s.tasks, t)
		s.started++
		out.watch = append(out.watch, adopted{a, s, t})
	}

	if a.current != "" {
		color, err := c.colorOf(ctx, a)
		if err != nil {
			return nil, err
		}
		s, err := c.resumeSet(ctx, a, a.current, color)
		if err != nil {
			return nil, err
		}
		a.color = color
		s.desired = sa.DesiredCount
	}
	a.prod, a.test = map[string]int{a.color: 100}, a.color
	return a, nil
}

// colorOf finds the target group the app's current revision runs in:
// that of its newest task.
func (c *Controller) colorOf(ctx context.Context, a *appState) (string, error) {
	if s := a.set(a.current); s != nil {
		return s.color, nil
	}
	tasks, err := c.store.ListTasks(ctx, store.TaskFilter{App: a.name, Revision: a.current})
	if err != nil {
		return "", err
	}
	for i := len(tasks) - 1; i >= 0; i-- {
		if set := tasks[i].TaskSet; set != TaskSetOneOff {
			if set == "" {
				break
			}
			return set, nil
		}
	}
	return colorBlue, nil
}

// resumeSet returns the app's set of revision, creating it (desired 0)
// with the revision's configuration.
func (c *Controller) resumeSet(ctx context.Context, a *appState, revision, color string) (*taskSet, error) {
	if s := a.set(revision); s != nil {
		return s, nil
	}
	rev, err := c.store.GetRevision(ctx, revision)
	if err != nil {
		return nil, err
	}
	if color == "" {
		color = colorBlue
	}
	s := &taskSet{rev: rev, cfg: revisionConfig(rev, a.cfg), color: color}
	a.sets = append(a.sets, s)
	return s, nil
}

func revisionConfig(rev store.Revision, fallback config.App) config.App {
	var cfg config.App
	if len(rev.Config) == 0 || json.Unmarshal(rev.Config, &cfg) != nil {
		return fallback
	}
	return cfg
}

// resumeRun rebuilds an active deployment: its sets, and the weights the
// store recorded last (they win over the app's defaults).
func (c *Controller) resumeRun(ctx context.Context, a *appState, d store.Deployment) (*run, error) {
	var rec runRecord
	if err := json.Unmarshal(d.Config, &rec); err != nil {
		return nil, fmt.Errorf("decoding its record: %w", err)
	}
	rev, err := c.store.GetRevision(ctx, d.ToRevision)
	if err != nil {
		return nil, err
	}
	r := &run{d: d, rev: rev, cfg: revisionConfig(rev, a.cfg), rec: rec, app: a, continued: make(chan struct{}, 1)}
	var prev config.App
	if json.Unmarshal(rec.PrevSpec, &prev) == nil && prev.Name == a.name {
		a.routed = prev.Listeners // the deployment changes them when it succeeds
	}
	if d.FromRevision != "" {
		if r.from, err = c.resumeSet(ctx, a, d.FromRevision, rec.Blue); err != nil {
			return nil, err
		}
	}
	switch {
	case r.from == nil:
	case d.Step == stepTerminateOriginal:
		r.from.desired = 0 // the original was being terminated; do not restart it
	case d.Strategy == config.StrategyRolling:
		r.from.desired = len(r.from.tasks) // the update resumes from what runs
	}
	if s := a.set(d.ToRevision); s != nil {
		r.to = s
		s.desired = len(s.tasks)
		if rec.Abort == nil && d.Strategy != config.StrategyRolling {
			s.desired = r.cfg.Service.Count
		}
	}
	weights, err := c.store.CurrentWeights(ctx, a.name)
	if err != nil {
		return nil, err
	}
	for _, w := range weights {
		if w.DeploymentID != d.ID {
			continue
		}
		switch w.Listener {
		case "production":
			a.prod = w.Weights
		case "test":
			a.test = rec.Blue
			if w.Weights[rec.Green] > 0 {
				a.test = rec.Green
			}
		}
	}
	a.run = r
	c.log.Info("resuming deployment", "deployment", d.ID, "step", d.Step)
	c.event(ctx, "deployment.resumed", a.name, d.ID, map[string]string{"step": d.Step})
	return r, nil
}

// stopStale stops a task found pending or draining after a restart: it
// was never registered, or its drain had begun.
func (c *Controller) stopStale(ctx context.Context, st store.Task) {
	exit, err := c.driver.Stop(ctx, st.ID, 0)
	if err != nil {
		exit = runtime.Exit{Code: -1, Reason: "stopping after restart: " + err.Error(), At: time.Now()}
	}
	if ctx.Err() != nil {
		return
	}
	c.recordStopped(ctx, st.ID, exit)
	c.driver.Remove(ctx, st.ID)
}

// stopStray stops a task the runtime runs but the store does not list as
// live: started by a cutover that died before recording it.
func (c *Controller) stopStray(ctx context.Context, id string) {
	if _, err := c.driver.Stop(ctx, id, 0); err != nil && ctx.Err() == nil {
		c.log.Warn("stopping unrecorded task", "task", id, "err", err)
	}
	c.driver.Remove(ctx, id)
}
