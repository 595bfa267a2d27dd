package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// stepFunc runs one lifecycle event. started is when the event first
// started (earlier than now when resumed after a restart). It returns the
// event's final status (Succeeded or Skipped) and a message, or an error
// that fails the event and the deployment.
type stepFunc func(ctx context.Context, r *run, started time.Time) (status, message string, err error)

type step struct {
	name string
	fn   stepFunc
	// bounded steps fail when they outlast the progress deadline; the
	// waits and the traffic schedule are as long as configured.
	bounded bool
}

// runBlueGreen drives a CodeDeploy ECS blue/green deployment through its
// lifecycle events, then succeeds, or rolls back when a step failed or the
// deployment was stopped.
func (c *Controller) runBlueGreen(ctx context.Context, r *run) error {
	steps := []step{
		{store.LifecycleBeforeInstall, c.hookStep(store.LifecycleBeforeInstall), true},
		{store.LifecycleInstall, c.install, true},
		{store.LifecycleAfterInstall, c.hookStep(store.LifecycleAfterInstall), true},
		{store.LifecycleAllowTestTraffic, c.allowTestTraffic, true},
		{store.LifecycleAfterAllowTestTraffic, c.hookStep(store.LifecycleAfterAllowTestTraffic), true},
		{stepReadyWait, c.readyWait, false},
		{store.LifecycleBeforeAllowTraffic, c.hookStep(store.LifecycleBeforeAllowTraffic), true},
		{store.LifecycleAllowTraffic, c.allowTraffic, false},
		{store.LifecycleAfterAllowTraffic, c.hookStep(store.LifecycleAfterAllowTraffic), true},
		{store.LifecycleTerminationWait, c.terminationWait, false},
		{stepTerminateOriginal, c.terminateOriginal, true},
	}
	if len(r.cfg.Deploy.Release) > 0 {
		steps = slices.Insert(steps, 2, step{stepRelease, c.release, false}) // after Install
	}
	if err := c.runSteps(ctx, r, steps); err != nil {
		return err
	}
	if ab := c.aborted(r); ab != nil {
		return c.rollbackBlueGreen(ctx, r, *ab)
	}
	return c.succeed(ctx, r)
}

// runSteps runs the steps not yet done, in order, until one fails or the
// deployment is aborted. A step that was InProgress when cutover died is
// run again under its original lifecycle event. It returns an error only
// when ctx ends (cutover stopping) or the store fails.
func (c *Controller) runSteps(ctx context.Context, r *run, steps []step) error {
	events, err := c.store.ListLifecycleEvents(ctx, r.d.ID)
	if err != nil {
		return err
	}
	last := map[string]store.LifecycleEvent{}
	for _, e := range events {
		last[e.Name] = e
	}
	// Alarms are watched from AllowTraffic until the original task set
	// is terminated.
	monitoring, stopMonitor := false, context.CancelFunc(func() {})
	defer func() { stopMonitor() }()
	for _, st := range steps {
		if c.aborted(r) != nil {
			return nil
		}
		ev, seen := last[st.name]
		switch {
		case seen && (ev.Status == store.LifecycleSucceeded || ev.Status == store.LifecycleSkipped):
			continue
		case seen && ev.Status == store.LifecycleFailed:
			// Failed but not yet aborted when cutover died.
			return c.setAbort(ctx, r, c.failure(r, st.name, st.name+" failed: "+ev.Message))
		case seen && ev.Status == store.LifecycleInProgress:
			c.log.Info("resuming lifecycle event", "deployment", r.d.ID, "event", st.name)
		default:
			ev, err = c.store.StartLifecycleEvent(ctx, r.d.ID, st.name)
			if err != nil {
				return err
			}
		}

		switch st.name {
		case store.LifecycleAllowTraffic, store.LifecycleAfterAllowTraffic, store.LifecycleTerminationWait:
			if !monitoring {
				monitoring = true
				mctx, cancel := context.WithCancel(ctx)
				stopMonitor = cancel
				c.wg.Go(func() { c.monitorAlarms(mctx, r) })
			}
		case stepTerminateOriginal:
			stopMonitor()
		}

		if stop, err := c.runStep(ctx, r, st, ev); stop {
			return err
		}
	}
	return nil
}

// runStep runs a step whose lifecycle event ev has started, within the
// progress deadline when the step is bounded, and records how it ended.
// stop: the deployment goes no further here, because the step failed or
// was interrupted, or cutover is stopping (ctx ended: the event stays
// InProgress and is resumed).
func (c *Controller) runStep(ctx context.Context, r *run, st step, ev store.LifecycleEvent) (stop bool, err error) {
	stepCtx, cancel := context.WithCancel(ctx)
	if st.bounded {
		stepCtx, cancel = context.WithDeadline(ctx, ev.StartedAt.Add(r.cfg.Deploy.ProgressDeadline))
	}
	c.mu.Lock()
	r.step, r.cancelStep = st.name, cancel
	c.mu.Unlock()
	if c.aborted(r) != nil {
		cancel()
	}
	status, msg, err := st.fn(stepCtx, r, ev.StartedAt)
	deadline := errors.Is(stepCtx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	ab := c.aborted(r)
	switch {
	case err == nil:
		_, err := c.store.EndLifecycleEvent(ctx, r.d.ID, ev.Seq, status, msg)
		return err != nil, err
	case ab != nil:
		_, err := c.store.EndLifecycleEvent(ctx, r.d.ID, ev.Seq, store.LifecycleFailed, "interrupted: "+ab.Reason)
		return true, err
	default:
		msg := err.Error()
		if deadline {
			msg = fmt.Sprintf("progress deadline of %s exceeded: %s", r.cfg.Deploy.ProgressDeadline, msg)
		}
		if _, err := c.store.EndLifecycleEvent(ctx, r.d.ID, ev.Seq, store.LifecycleFailed, msg); err != nil {
			return true, err
		}
		return true, c.setAbort(ctx, r, c.failure(r, st.name, st.name+" failed: "+msg))
	}
}

// failure is how a failed step ends the deployment: BeforeInstall has
// nothing to roll back; otherwise RolledBack, or Failed when rollback on
// failure is off (traffic still returns to the original task set: cutover
// never leaves production on a replacement that failed).
func (c *Controller) failure(r *run, step, reason string) abortRecord {
	if step == stepRelease {
		// No traffic moved: the replacement is stopped, nothing rolled back.
		return abortRecord{Status: store.DeploymentFailed, Reason: releaseReason(reason)}
	}
	if step == store.LifecycleBeforeInstall {
		return abortRecord{Status: store.DeploymentFailed, Reason: reason, NoRollback: true}
	}
	if r.cfg.Deploy.Rollback.OnFailure {
		return abortRecord{Status: store.DeploymentRolledBack, Reason: reason}
	}
	return abortRecord{Status: store.DeploymentFailed, Reason: reason}
}

// install creates the replacement task set in the other target group
// and waits until all its tasks are healthy. Repeated task failures
// (crash loop, failing health checks) fail it at the circuit-breaker
// threshold.
func (c *Controller) install(ctx context.Context, r *run, _ time.Time) (string, string, error) {
	c.mu.Lock()
	a := r.app
	if r.to == nil {
		r.to = a.set(r.rev.ID)
	}
	if r.to == nil {
		r.to = &taskSet{rev: r.rev, cfg: r.cfg, color: r.rec.Green}
		a.sets = append(a.sets, r.to)
	}
	want := r.cfg.Service.Count
	r.to.desired = want
	threshold := CircuitBreakerThreshold(want)
	c.mu.Unlock()

	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		c.mu.Lock()
		n, failures, last := r.to.counts(), r.to.failures, r.to.lastFailure()
		c.mu.Unlock()
		if n.healthy >= want {
			return store.LifecycleSucceeded, fmt.Sprintf("%d tasks healthy in %s", n.healthy, groupName(a.name, r.to.color)), nil
		}
		if failures >= threshold {
			return "", "", fmt.Errorf("%d tasks of the replacement failed to start, exited or failed their health checks (circuit-breaker threshold %d failed tasks)%s", failures, threshold, last)
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for %d healthy tasks, %d are: %w", want, n.healthy, ctx.Err())
		case <-t.C:
		}
	}
}

// allowTestTraffic points the test listener at the replacement.
func (c *Controller) allowTestTraffic(ctx context.Context, r *run, _ time.Time) (string, string, error) {
	if c.listeners(r.app).Test == "" {
		return store.LifecycleSkipped, "no test listener", nil
	}
	if err := c.shift(ctx, r, "test", 100); err != nil {
		return "", "", err
	}
	return store.LifecycleSucceeded, "test listener → " + groupName(r.app.name, r.rec.Green), nil
}

// readyWait is CodeDeploy's "wait before rerouting": continue after the
// wait, or, when manual, hold for Continue and stop at the end of it.
func (c *Controller) readyWait(ctx context.Context, r *run, started time.Time) (string, string, error) {
	rw := r.cfg.Deploy.ReadyWait
	if rw.Wait <= 0 {
		return store.LifecycleSkipped, "no ready wait", nil
	}
	drain(r.continued) // a Continue for this step is also in the record
	c.mu.Lock()
	continued := r.rec.ReadyContinued
	c.mu.Unlock()
	if continued {
		return store.LifecycleSucceeded, "continued", nil
	}
	t := time.NewTimer(time.Until(started.Add(rw.Wait)))
	defer t.Stop()
	select {
	case <-r.continued:
		return store.LifecycleSucceeded, "continued", nil
	case <-ctx.Done():
		return "", "", ctx.Err()
	case <-t.C:
	}
	if !rw.Manual {
		return store.LifecycleSucceeded, fmt.Sprintf("waited %s", rw.Wait), nil
	}
	reason := fmt.Sprintf("ready wait of %s ended without `cutover continue %s`", rw.Wait, r.d.ID)
	if err := c.setAbort(ctx, r, abortRecord{Status: store.DeploymentStopped, Reason: reason}); err != nil {
		return "", "", err
	}
	return "", "", errors.New(reason)
}

// allowTraffic shifts production traffic by the schedule, resuming after
// the last recorded weight.
func (c *Controller) allowTraffic(ctx context.Context, r *run, started time.Time) (string, string, error) {
	steps := Schedule(r.cfg.Deploy.Traffic)
	c.mu.Lock()
	empty := r.from == nil || len(r.from.tasks) == 0
	c.mu.Unlock()
	if empty {
		steps = []TrafficStep{{0, 100}} // nothing to shift from
	}
	percent, at := 0, started
	history, err := c.store.WeightHistory(ctx, r.d.ID)
	if err != nil {
		return "", "", err
	}
	for _, w := range history {
		if w.Listener == "production" {
			percent, at = w.Weights[r.rec.Green], w.At
		}
	}
	for i := resumeStep(steps, percent); i < len(steps); i++ {
		if i > 0 && !sleep(ctx, time.Until(at.Add(steps[i].At-steps[i-1].At))) {
			return "", "", fmt.Errorf("at %d%%: %w", percent, ctx.Err())
		}
		if err := c.shift(ctx, r, "production", steps[i].Percent); err != nil {
			return "", "", err
		}
		percent, at = steps[i].Percent, time.Now()
	}
	return store.LifecycleSucceeded, "production → " + groupName(r.app.name, r.rec.Green), nil
}

// shift moves a listener's traffic: percent to the replacement, the rest
// to the original. Write-ahead: the weights are recorded, then applied, so
// a restart applies what the store says.
func (c *Controller) shift(ctx context.Context, r *run, listener string, percent int) error {
	blue, green := Weights(percent)
	weights := map[string]int{r.rec.Blue: blue, r.rec.Green: green}
	if _, err := c.store.RecordWeights(context.WithoutCancel(ctx), r.d.ID, listener, weights); err != nil {
		return err
	}
	c.mu.Lock()
	if listener == "test" {
		r.app.test = r.rec.Blue
		if green > 0 {
			r.app.test = r.rec.Green
		}
	} else {
		r.app.prod = weights
	}
	c.mu.Unlock()
	return c.applyProxy(ctx)
}

// terminationWait keeps the original task set running, so a rollback is
// instant, for the configured time or until Continue.
func (c *Controller) terminationWait(ctx context.Context, r *run, started time.Time) (string, string, error) {
	drain(r.continued) // a Continue for this step is also in the record
	c.mu.Lock()
	skipped, first := r.rec.TerminationSkipped, r.from == nil
	c.mu.Unlock()
	if first {
		// An app's first deployment has no original to roll back to.
		return store.LifecycleSkipped, "no original task set", nil
	}
	if skipped {
		return store.LifecycleSucceeded, "skipped", nil
	}
	t := time.NewTimer(time.Until(started.Add(r.cfg.Deploy.TerminationWait)))
	defer t.Stop()
	select {
	case <-r.continued:
		return store.LifecycleSucceeded, "skipped", nil
	case <-ctx.Done():
		return "", "", ctx.Err()
	case <-t.C:
		return store.LifecycleSucceeded, fmt.Sprintf("waited %s", r.cfg.Deploy.TerminationWait), nil
	}
}

// terminateOriginal deregisters, drains and stops the original task set.
func (c *Controller) terminateOriginal(ctx context.Context, r *run, _ time.Time) (string, string, error) {
	c.mu.Lock()
	first := r.from == nil
	if !first {
		r.from.desired = 0
	}
	c.mu.Unlock()
	if first {
		return store.LifecycleSkipped, "no original task set", nil
	}
	if err := c.waitEmpty(ctx, r.from); err != nil {
		return "", "", fmt.Errorf("stopping the original task set: %w", err)
	}
	return store.LifecycleSucceeded, "original task set stopped", nil
}

// waitEmpty waits until s has no tasks.
func (c *Controller) waitEmpty(ctx context.Context, s *taskSet) error {
	if s == nil {
		return nil
	}
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		c.mu.Lock()
		n := len(s.tasks)
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d tasks left: %w", n, ctx.Err())
		case <-t.C:
		}
	}
}

// succeed makes the replacement the app's current revision.
func (c *Controller) succeed(ctx context.Context, r *run) error {
	_, err := c.store.UpdateApp(ctx, r.app.name, func(a *store.App) error {
		a.CurrentRevision, a.Spec, a.DesiredCount = r.rev.ID, r.rev.Config, r.cfg.Service.Count
		return nil
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	r.app.current, r.app.color, r.app.cfg = r.rev.ID, r.rec.Green, r.cfg
	moved := !slices.Equal(r.app.routed.Hosts, r.cfg.Listeners.Hosts) || r.app.routed.Production != r.cfg.Listeners.Production
	r.app.routed = r.cfg.Listeners
	c.mu.Unlock()
	if moved {
		// The new revision serves all production traffic: its listener
		// and hosts take over in one Apply.
		if err := c.applyProxy(ctx); err != nil {
			return err
		}
	}
	// Retention before the deployment is reported done: whoever waits
	// for it sees the releases as they stay.
	c.pruneReleases(ctx, r.app.name)
	return c.finish(ctx, r, store.DeploymentSucceeded, "")
}

// rollbackBlueGreen ends an aborted deployment: production and test
// traffic back to the original task set in one Apply, then the
// replacement drained and stopped.
func (c *Controller) rollbackBlueGreen(ctx context.Context, r *run, ab abortRecord) error {
	if !ab.NoRollback {
		ev, err := c.openEvent(ctx, r, store.LifecycleRollback)
		if err != nil {
			return err
		}
		c.mu.Lock()
		r.step = store.LifecycleRollback
		c.mu.Unlock()
		if err := c.routeToOriginal(ctx, r); err != nil {
			return err
		}
		c.mu.Lock()
		if r.to == nil {
			r.to = r.app.set(r.rev.ID)
		}
		if r.to != nil {
			r.to.desired = 0
		}
		if r.from != nil {
			r.from.desired = r.app.cfg.Service.Count
		}
		c.mu.Unlock()
		wctx, cancel := context.WithDeadline(ctx, ev.StartedAt.Add(r.cfg.Deploy.ProgressDeadline))
		err = c.waitEmpty(wctx, r.to)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		status, msg := store.LifecycleSucceeded, "traffic on "+groupName(r.app.name, r.rec.Blue)+"; replacement stopped"
		if err != nil {
			status, msg = store.LifecycleFailed, "traffic on "+groupName(r.app.name, r.rec.Blue)+"; replacement not stopped: "+err.Error()
		}
		if _, err := c.store.EndLifecycleEvent(ctx, r.d.ID, ev.Seq, status, msg); err != nil {
			return err
		}
	}
	return c.finish(ctx, r, ab.Status, ab.Reason)
}

// routeToOriginal sends production and test traffic back to the original
// task set with one Apply, recording both first.
func (c *Controller) routeToOriginal(ctx context.Context, r *run) error {
	weights := map[string]int{r.rec.Blue: 100, r.rec.Green: 0}
	if r.rec.Blue == r.rec.Green {
		return nil // rolling: one target group
	}
	if _, err := c.store.RecordWeights(context.WithoutCancel(ctx), r.d.ID, "production", weights); err != nil {
		return err
	}
	if c.listeners(r.app).Test != "" {
		if _, err := c.store.RecordWeights(context.WithoutCancel(ctx), r.d.ID, "test", weights); err != nil {
			return err
		}
	}
	c.mu.Lock()
	r.app.prod, r.app.test = weights, r.rec.Blue
	c.mu.Unlock()
	return c.applyProxy(ctx)
}

// openEvent returns the deployment's InProgress event called name, or
// starts one.
func (c *Controller) openEvent(ctx context.Context, r *run, name string) (store.LifecycleEvent, error) {
	events, err := c.store.ListLifecycleEvents(ctx, r.d.ID)
	if err != nil {
		return store.LifecycleEvent{}, err
	}
	for _, e := range events {
		if e.Name == name && e.Status == store.LifecycleInProgress {
			return e, nil
		}
	}
	return c.store.StartLifecycleEvent(ctx, r.d.ID, name)
}

// drain empties a signal channel: a signal left from an earlier step.
func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// listeners returns the app's listeners; a.cfg changes under c.mu.
func (c *Controller) listeners(a *appState) config.Listeners {
	c.mu.Lock()
	defer c.mu.Unlock()
	return a.cfg.Listeners
}
