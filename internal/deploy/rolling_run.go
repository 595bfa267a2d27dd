package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// errCircuitBreaker fails a rolling update after too many task failures.
var errCircuitBreaker = errors.New("ECS deployment circuit breaker: tasks failed to start or become healthy")

// runRolling drives an ECS rolling update within the app's current target
// group. On failure (circuit breaker, progress deadline) or Stop/Rollback
// it rolls back to the revision it came from — the last completed one —
// by the same arithmetic, unless rollback on failure is off: then the
// deployment ends Failed and launches no more tasks.
func (c *Controller) runRolling(ctx context.Context, r *run) error {
	if ok, err := c.releaseBeforeRolling(ctx, r); !ok {
		return err
	}
	if done, err := c.rollingUpdate(ctx, r); done || err != nil {
		return err
	}
	ab := c.aborted(r)
	if ab == nil { // the RollingUpdate event ended but the deployment did not: succeed
		return c.succeed(ctx, r)
	}
	if ab.Status == store.DeploymentFailed || r.from == nil {
		// ECS without rollback: a failed deployment launches no new tasks.
		c.mu.Lock()
		r.to.desired = r.to.counts().healthy
		c.mu.Unlock()
		return c.finish(ctx, r, ab.Status, ab.Reason)
	}
	return c.rollBackRolling(ctx, r, ab)
}

// rollingUpdate runs the RollingUpdate event while it is in progress
// and r not aborted. It reports done when runRolling has nothing left to
// do but return the error: the deployment succeeded, ctx ended or the
// store failed. Otherwise the update failed or was interrupted (the
// event then ended Failed), or it had already ended, and runRolling
// ends the deployment.
func (c *Controller) rollingUpdate(ctx context.Context, r *run) (done bool, err error) {
	ev, err := c.openEvent(ctx, r, stepRollingUpdate)
	if err != nil {
		return true, err
	}
	stepCtx, cancel := context.WithDeadline(ctx, ev.StartedAt.Add(r.cfg.Deploy.ProgressDeadline))
	defer cancel()
	if aborted := c.prepareRolling(r, cancel); aborted || ev.Status != store.LifecycleInProgress {
		return false, nil
	}
	err = c.roll(stepCtx, r, r.to, r.cfg.Deploy.Rolling.CircuitBreaker)
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	if errors.Is(stepCtx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("progress deadline of %s exceeded: %w", r.cfg.Deploy.ProgressDeadline, err)
	}
	ab := c.aborted(r)
	switch {
	case err == nil && ab == nil:
		if _, err := c.store.EndLifecycleEvent(ctx, r.d.ID, ev.Seq, store.LifecycleSucceeded, fmt.Sprintf("%d tasks of %s healthy", r.cfg.Service.Count, r.rev.ID)); err != nil {
			return true, err
		}
		return true, c.succeed(ctx, r)
	case ab != nil:
		err = errors.New("interrupted: " + ab.Reason)
	default:
		if err := c.setAbort(ctx, r, c.failure(r, stepRollingUpdate, err.Error())); err != nil {
			return true, err
		}
	}
	_, err = c.store.EndLifecycleEvent(ctx, r.d.ID, ev.Seq, store.LifecycleFailed, err.Error())
	return err != nil, err
}

// prepareRolling gives r the task set of its revision, the app's own if
// it has one, and lets the step be cancelled. It reports whether r was
// aborted.
func (c *Controller) prepareRolling(r *run, cancel context.CancelFunc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.to == nil {
		r.to = r.app.set(r.rev.ID)
	}
	if r.to == nil {
		r.to = &taskSet{rev: r.rev, cfg: r.cfg, color: r.rec.Green}
		r.app.sets = append(r.app.sets, r.to)
	}
	r.step, r.cancelStep = stepRollingUpdate, cancel
	return r.rec.Abort != nil
}

// rollBackRolling rolls the old revision's tasks back in, in a Rollback
// event, then ends the deployment as ab says.
func (c *Controller) rollBackRolling(ctx context.Context, r *run, ab *abortRecord) error {
	rb, err := c.openEvent(ctx, r, store.LifecycleRollback)
	if err != nil {
		return err
	}
	c.mu.Lock()
	r.step = store.LifecycleRollback
	c.mu.Unlock()
	rctx, cancel := context.WithDeadline(ctx, rb.StartedAt.Add(r.cfg.Deploy.ProgressDeadline))
	err = c.roll(rctx, r, r.from, false)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	status, msg := store.LifecycleSucceeded, "back on "+r.from.rev.ID
	if err != nil {
		status, msg = store.LifecycleFailed, err.Error()
	}
	if _, err := c.store.EndLifecycleEvent(ctx, r.d.ID, rb.Seq, status, msg); err != nil {
		return err
	}
	return c.finish(ctx, r, ab.Status, ab.Reason)
}

// roll moves the app's tasks to target, ECS's way: the target set grows
// while all live tasks stay within maxPercent of the count, the others
// shrink while the tasks that stay healthy stay at or above
// minHealthyPercent; the scheduler starts, drains and stops the tasks.
// With breaker, it fails at the circuit-breaker threshold of failed
// target tasks.
func (c *Controller) roll(ctx context.Context, r *run, target *taskSet, breaker bool) error {
	c.mu.Lock()
	want := r.cfg.Service.Count
	roll := r.cfg.Deploy.Rolling
	base := target.failures
	c.mu.Unlock()
	maxTasks, minHealthy, err := RollingBounds(want, roll.MinHealthyPercent, roll.MaxPercent)
	if err != nil {
		return err
	}
	threshold := CircuitBreakerThreshold(want)
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		c.mu.Lock()
		done, failures, last := c.rollStep(r.app, target, want, maxTasks, minHealthy), target.failures-base, target.lastFailure()
		c.mu.Unlock()
		if done {
			return nil
		}
		if breaker && failures >= threshold {
			return fmt.Errorf("%w (%d tasks failed; circuit-breaker threshold %d)%s", errCircuitBreaker, failures, threshold, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rolling to %s: %w", target.rev.ID, ctx.Err())
		case <-t.C:
		}
	}
}

// rollStep adjusts the desired counts once and reports whether the
// update is complete. Called with c.mu held.
func (c *Controller) rollStep(a *appState, target *taskSet, want, maxTasks, minHealthy int) bool {
	counts := RollingCounts{Desired: want, MaxTasks: maxTasks, MinHealthy: minHealthy, NewWanted: target.desired}
	tc := target.counts()
	counts.Live = len(target.tasks)
	counts.Serving = min(tc.healthy, target.desired)
	others := 0
	for _, s := range a.sets {
		if s == target {
			continue
		}
		n := s.counts()
		counts.Live += len(s.tasks)
		counts.Serving += min(n.healthy, s.desired)
		counts.OldWanted += s.desired
		counts.OldIdle += max(s.desired-n.healthy, 0)
		others += len(s.tasks)
	}
	if target.desired == want && tc.healthy >= want && counts.OldWanted == 0 && others == 0 {
		return true
	}
	start, stop := RollingStep(counts)
	target.desired += start
	for _, s := range a.sets {
		if s == target || stop == 0 {
			continue
		}
		n := min(stop, s.desired)
		s.desired -= n
		stop -= n
	}
	return false
}
