package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Lifecycle events cutover records besides the store's: the ready wait
// between test and production traffic, and the end of the original task
// set after the termination wait.
const (
	stepReadyWait         = "ReadyWait"
	stepTerminateOriginal = "TerminateOriginal"
	stepRollingUpdate     = "RollingUpdate"
)

// run is one active deployment being driven. Guarded by Controller.mu.
type run struct {
	d    store.Deployment
	rev  store.Revision
	cfg  config.App // the configuration being deployed
	rec  runRecord
	app  *appState
	from *taskSet // the original task set; nil when the app runs nothing
	to   *taskSet // the replacement; nil until Install

	step       string             // the lifecycle event running
	cancelStep context.CancelFunc // ends the running step early (stop, rollback, alarm)
	continued  chan struct{}      // signalled by Continue
}

// runRecord is the controller's part of a deployment, kept in the
// store's Deployment.Config so a restarted controller knows it.
type runRecord struct {
	Blue  string `json:"blue"`  // target group (color) of the original task set
	Green string `json:"green"` // target group (color) of the replacement
	// Abort, once set, says how the deployment ends: traffic back to the
	// original, the replacement drained and stopped, then Status.
	Abort *abortRecord `json:"abort,omitempty"`
	// ReadyContinued and TerminationSkipped record Continue calls.
	ReadyContinued     bool `json:"ready_continued,omitempty"`
	TerminationSkipped bool `json:"termination_skipped,omitempty"`
	// PrevSpec is the app's configuration before this deployment, put
	// back unless the deployment succeeds.
	PrevSpec json.RawMessage `json:"prev_spec,omitempty"`
}

type abortRecord struct {
	Status string `json:"status"` // the final status: RolledBack, Stopped or Failed
	Reason string `json:"reason"`
	// NoRollback: nothing to roll back (BeforeInstall failed).
	NoRollback bool `json:"no_rollback,omitempty"`
}

func (r *run) uses(s *taskSet) bool { return s != nil && (s == r.from || s == r.to) }

// ErrNotActive: the deployment has ended or is not driven by this
// controller.
var ErrNotActive = errors.New("deployment is not active")

// Deploy creates a revision from spec and deploys it with the app's
// strategy. It returns once the deployment is recorded; Wait follows it.
// It refuses while another deployment of the app is active. It first
// waits until Run has resumed (or ctx ends).
//
// Deploy is the one way to change a running app's configuration: with
// spec.Config, an app that does not exist yet is registered; for one that
// does, the new configuration (listeners, count, health check, delays)
// takes effect only once the deployment is accepted, and a deployment
// that does not succeed puts the previous configuration back.
func (c *Controller) Deploy(ctx context.Context, app string, spec RevisionSpec) (store.Deployment, error) {
	if err := c.waitStarted(ctx); err != nil {
		return store.Deployment{}, fmt.Errorf("deploying %s: %w", app, err)
	}
	registered, err := c.registerNew(ctx, app, spec.Config)
	if err != nil {
		return store.Deployment{}, err
	}
	b, err := c.deployable(ctx, app, spec)
	if err != nil {
		return store.Deployment{}, err
	}
	d, rev, rec, err := c.record(ctx, b, spec, registered)
	if err != nil {
		return d, err
	}
	if spec.Config != nil {
		if err := c.adoptForDeployment(ctx, b.a, b.cfg, registered); err != nil {
			return d, fmt.Errorf("deploying %s: %w", app, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &run{d: d, rev: rev, cfg: b.cfg, rec: rec, app: b.a, from: b.a.set(b.current), continued: make(chan struct{}, 1)}
	b.a.run = r
	c.startRun(r)
	return d, nil
}

// deployBase is what a deployment starts from: the app, the
// configuration to deploy, and the revision and target group serving now.
type deployBase struct {
	a             *appState
	cfg           config.App
	current, blue string
}

// deployable checks that the app can be deployed now and returns what
// the deployment starts from.
func (c *Controller) deployable(ctx context.Context, app string, spec RevisionSpec) (deployBase, error) {
	c.mu.Lock()
	a := c.apps[app]
	stopped := c.ctx.Err() != nil
	var b deployBase
	destroyed := false
	if a != nil {
		b = deployBase{a: a, cfg: a.cfg, current: a.current, blue: a.color}
		destroyed = a.destroyed
	}
	c.mu.Unlock()
	switch {
	case stopped:
		return b, fmt.Errorf("deploying %s: the controller has stopped", app)
	case a == nil:
		return b, fmt.Errorf("deploying %s: %w: no such app; register it first", app, store.ErrNotFound)
	case destroyed:
		return b, fmt.Errorf("deploying %s: %w: the app is being destroyed", app, store.ErrConflict)
	}
	if err := c.refuseActive(ctx, app); err != nil {
		return b, err
	}
	if spec.Config != nil {
		b.cfg = *spec.Config
		if b.cfg.Name != app {
			return b, fmt.Errorf("deploying %s: the configuration is for app %q", app, b.cfg.Name)
		}
	}
	var err error
	if b.cfg, err = c.withKept(ctx, b.cfg, spec.Config != nil); err != nil {
		return b, fmt.Errorf("deploying %s: %w", app, err)
	}
	if err := c.checkApp(b.cfg); err != nil {
		return b, fmt.Errorf("deploying %s: %w", app, err)
	}
	return b, nil
}

// record stores the deployment's revision, the deployment with its run
// record, and its planned lifecycle events.
func (c *Controller) record(ctx context.Context, b deployBase, spec RevisionSpec, registered bool) (store.Deployment, store.Revision, runRecord, error) {
	app := b.a.name
	fail := func(err error) (store.Deployment, store.Revision, runRecord, error) {
		return store.Deployment{}, store.Revision{}, runRecord{}, err
	}
	raw, err := json.Marshal(b.cfg)
	if err != nil {
		return fail(fmt.Errorf("deploying %s: encoding its configuration: %w", app, err))
	}
	rev, err := c.store.CreateRevision(ctx, store.Revision{App: app, Commit: spec.Commit, Artifact: spec.Artifact, Config: raw})
	if err != nil {
		return fail(fmt.Errorf("deploying %s: %w", app, err))
	}
	rec := runRecord{Blue: b.blue, Green: otherColor(b.blue)}
	if spec.Config != nil && !registered {
		// The configuration to put back if this deployment does not succeed.
		prev, err := c.store.GetApp(ctx, app)
		if err != nil {
			return fail(fmt.Errorf("deploying %s: %w", app, err))
		}
		rec.PrevSpec = prev.Spec
	}
	if b.cfg.Deploy.Strategy == config.StrategyRolling {
		rec.Green = b.blue // a rolling update replaces tasks within one target group
	}
	recRaw, _ := json.Marshal(rec)
	d, err := c.store.CreateDeployment(ctx, store.Deployment{
		App: app, FromRevision: b.current, ToRevision: rev.ID, Strategy: b.cfg.Deploy.Strategy,
		Status: store.DeploymentInProgress, Config: recRaw,
	})
	if errors.Is(err, store.ErrDeploymentInProgress) {
		if err := c.refuseActive(ctx, app); err != nil {
			return fail(err)
		}
	}
	if err != nil {
		return fail(fmt.Errorf("deploying %s: %w", app, err))
	}
	for _, name := range plan(b.cfg) {
		if _, err := c.store.RecordLifecycleEvent(ctx, store.LifecycleEvent{DeploymentID: d.ID, Name: name}); err != nil {
			return d, rev, rec, fmt.Errorf("deploying %s: recording the plan: %w", app, err)
		}
	}
	return d, rev, rec, nil
}

// adoptForDeployment makes cfg the app's configuration as its deployment
// begins. Production keeps its listener and hosts until the deployment
// succeeds (see succeed), unless the app is new.
func (c *Controller) adoptForDeployment(ctx context.Context, a *appState, cfg config.App, registered bool) error {
	c.mu.Lock()
	routed := a.routed
	c.mu.Unlock()
	if err := c.adoptConfig(ctx, cfg); err != nil {
		return err
	}
	if !registered {
		c.mu.Lock()
		a.routed = routed
		c.mu.Unlock()
	}
	return c.applyProxy(ctx)
}

// registerNew registers an app that does not exist yet from cfg, so that
// its first deployment can start, and reports whether it did.
func (c *Controller) registerNew(ctx context.Context, app string, cfg *config.App) (bool, error) {
	c.mu.Lock()
	known := c.apps[app] != nil
	c.mu.Unlock()
	if known || cfg == nil || cfg.Name != app {
		return false, nil
	}
	if err := c.checkApp(*cfg); err != nil {
		return false, fmt.Errorf("deploying %s: %w", app, err)
	}
	if err := c.adoptConfig(ctx, *cfg); err != nil {
		return false, fmt.Errorf("deploying %s: %w", app, err)
	}
	return true, nil
}

// restoreConfig puts back the configuration the app had before a
// deployment that did not succeed.
func (c *Controller) restoreConfig(ctx context.Context, r *run) {
	if len(r.rec.PrevSpec) == 0 {
		return
	}
	var prev config.App
	if err := json.Unmarshal(r.rec.PrevSpec, &prev); err != nil || prev.Name == "" {
		return // the app was registered with no configuration
	}
	if err := c.adoptConfig(ctx, prev); err != nil {
		c.log.Error("restoring the configuration after the deployment", "deployment", r.d.ID, "err", err)
		return
	}
	if err := c.applyProxy(ctx); err != nil {
		c.log.Error("restoring the load balancer after the deployment", "deployment", r.d.ID, "err", err)
	}
}

// refuseActive returns a clear error when the app has an active deployment.
func (c *Controller) refuseActive(ctx context.Context, app string) error {
	d, err := c.store.ActiveDeployment(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deploying %s: %w", app, err)
	}
	return fmt.Errorf("%w: deployment %s of %s is %s; wait, or stop it with `cutover stop %s`",
		store.ErrDeploymentInProgress, d.ID, app, d.Status, d.ID)
}

// plan lists a deployment's lifecycle events in order; Release only
// when the app has a release command.
func plan(cfg config.App) []string {
	var release []string
	if len(cfg.Deploy.Release) > 0 {
		release = []string{stepRelease}
	}
	if cfg.Deploy.Strategy == config.StrategyRolling {
		return append(release, stepRollingUpdate)
	}
	events := []string{store.LifecycleBeforeInstall, store.LifecycleInstall}
	events = append(events, release...)
	return append(events,
		store.LifecycleAfterInstall,
		store.LifecycleAllowTestTraffic, store.LifecycleAfterAllowTestTraffic, stepReadyWait,
		store.LifecycleBeforeAllowTraffic, store.LifecycleAllowTraffic, store.LifecycleAfterAllowTraffic,
		store.LifecycleTerminationWait, stepTerminateOriginal,
	)
}

// startRun drives r in its own goroutine. Called with c.mu held.
func (c *Controller) startRun(r *run) {
	c.goLocked(func(ctx context.Context) {
		var err error
		if r.cfg.Deploy.Strategy == config.StrategyRolling {
			err = c.runRolling(ctx, r)
		} else {
			err = c.runBlueGreen(ctx, r)
		}
		if err != nil && ctx.Err() == nil {
			c.log.Error("deployment", "deployment", r.d.ID, "err", err)
		}
	})
}

// findRun returns the active deployment id driven by this controller.
func (c *Controller) findRun(id string) (*run, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.apps {
		if a.run != nil && a.run.d.ID == id {
			return a.run, nil
		}
	}
	return nil, fmt.Errorf("deployment %s: %w", id, ErrNotActive)
}

// Continue ends a deployment's ready wait (also a manual one), or skips
// its termination wait.
func (c *Controller) Continue(ctx context.Context, deploymentID string) error {
	r, err := c.findRun(deploymentID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	step := r.step
	c.mu.Unlock()
	var mark func(*runRecord)
	switch step {
	case stepReadyWait:
		mark = func(rec *runRecord) { rec.ReadyContinued = true }
	case store.LifecycleTerminationWait:
		mark = func(rec *runRecord) { rec.TerminationSkipped = true }
	default:
		return fmt.Errorf("%w: deployment %s is at %s; continue applies to the ready wait and the termination wait", store.ErrConflict, deploymentID, step)
	}
	if err := c.updateRecord(ctx, r, mark); err != nil {
		return err
	}
	select {
	case r.continued <- struct{}{}:
	default:
	}
	return nil
}

// Stop stops a deployment: traffic back to the original task set, the
// replacement drained and stopped; it ends Stopped.
func (c *Controller) Stop(ctx context.Context, deploymentID string) error {
	return c.abort(ctx, deploymentID, abortRecord{Status: store.DeploymentStopped, Reason: "stopped by " + store.Actor(ctx)})
}

// Rollback rolls a deployment back, also during its termination wait:
// traffic back to the original task set, the replacement drained and
// stopped; it ends RolledBack.
func (c *Controller) Rollback(ctx context.Context, deploymentID string) error {
	return c.abort(ctx, deploymentID, abortRecord{Status: store.DeploymentRolledBack, Reason: "rolled back by " + store.Actor(ctx)})
}

// abort records how r ends (first reason wins) and ends its running step.
func (c *Controller) abort(ctx context.Context, deploymentID string, ab abortRecord) error {
	r, err := c.findRun(deploymentID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	step := r.step
	c.mu.Unlock()
	if step == stepTerminateOriginal {
		return fmt.Errorf("%w: deployment %s is terminating its original task set; it can no longer be stopped or rolled back", store.ErrConflict, deploymentID)
	}
	return c.setAbort(ctx, r, ab)
}

func (c *Controller) setAbort(ctx context.Context, r *run, ab abortRecord) error {
	err := c.updateRecord(ctx, r, func(rec *runRecord) {
		if rec.Abort == nil {
			rec.Abort = &ab
		}
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	cancel := r.cancelStep
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil
}

// updateRecord changes r's record in the store, then in memory.
func (c *Controller) updateRecord(ctx context.Context, r *run, fn func(*runRecord)) error {
	c.mu.Lock()
	rec := r.rec
	if rec.Abort != nil {
		ab := *rec.Abort
		rec.Abort = &ab
	}
	c.mu.Unlock()
	fn(&rec)
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = c.store.UpdateDeployment(context.WithoutCancel(ctx), r.d.ID, func(d *store.Deployment) error {
		if !d.Active() {
			return fmt.Errorf("%w: it is %s", ErrNotActive, d.Status)
		}
		d.Config = raw
		return nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s: %w", r.d.ID, err)
	}
	// Only the mutable fields: Blue and Green never change and are read
	// without the lock.
	c.mu.Lock()
	r.rec.Abort, r.rec.ReadyContinued, r.rec.TerminationSkipped = rec.Abort, rec.ReadyContinued, rec.TerminationSkipped
	c.mu.Unlock()
	return nil
}

func (c *Controller) aborted(r *run) *abortRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return r.rec.Abort
}

// finish ends the deployment with status, skips the events that never
// ran, and lets the app take another deployment.
func (c *Controller) finish(ctx context.Context, r *run, status, reason string) error {
	ctx = context.WithoutCancel(ctx)
	events, err := c.store.ListLifecycleEvents(ctx, r.d.ID)
	if err != nil {
		return err
	}
	for _, e := range events {
		if e.Status == store.LifecyclePending {
			c.store.EndLifecycleEvent(ctx, r.d.ID, e.Seq, store.LifecycleSkipped, "")
		}
	}
	c.mu.Lock()
	r.app.run = nil
	c.mu.Unlock()
	if status != store.DeploymentSucceeded {
		c.restoreConfig(ctx, r)
	}
	_, err = c.store.UpdateDeployment(ctx, r.d.ID, func(d *store.Deployment) error {
		d.Status, d.Error = status, reason
		return nil
	})
	if err != nil {
		return fmt.Errorf("ending deployment %s: %w", r.d.ID, err)
	}
	c.log.Info("deployment ended", "deployment", r.d.ID, "status", status, "reason", reason)
	return nil
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
