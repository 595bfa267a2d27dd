package deploy

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

// startScheduler starts the app's service scheduler. Called with c.mu
// held, once Run has resumed.
func (c *Controller) startScheduler(a *appState) {
	c.goLocked(func(ctx context.Context) {
		t := time.NewTicker(c.tick)
		defer t.Stop()
		for {
			changed := c.router.Changed()
			c.reconcile(ctx, a)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-changed: // a health event
			}
		}
	})
}

// reconcile is one pass of the service scheduler, ECS's: it records
// target health, then per task set starts tasks up to the desired count
// of good ones (replacement first: an unhealthy task stays until enough
// others are healthy), and stops what is beyond it, each stop
// deregistering, draining, then stopping the task.
func (c *Controller) reconcile(ctx context.Context, a *appState) {
	changes := c.syncHealth(a)
	for _, ch := range changes {
		if _, err := c.store.SetTaskState(ctx, ch.id, ch.state); err != nil && ctx.Err() == nil {
			c.log.Error("recording task health", "task", ch.id, "err", err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, s := range slices.Clone(a.sets) {
		n := s.counts()
		surge := max(s.desired*a.cfg.Deploy.Rolling.MaxPercent/100, s.desired+1)
		if n.good < s.desired && !now.Before(s.notBefore) {
			for range min(s.desired-n.good, surge-n.live) {
				t := newTask(a.name, s)
				c.goLocked(func(ctx context.Context) { c.startTask(ctx, a, s, t) })
			}
		}
		var stop []*task
		if n.healthy >= s.desired {
			for _, t := range s.tasks {
				if !t.stopping && t.addr != "" && t.state == store.TaskUnhealthy {
					stop = append(stop, t)
				}
			}
		}
		if excess := n.good - s.desired; excess > 0 {
			candidates := stopCandidates(s)
			stop = append(stop, candidates[:min(excess, len(candidates))]...)
		}
		for _, t := range stop {
			t.stopping = true
			c.goLocked(func(ctx context.Context) { c.stopTask(ctx, a, s, t) })
		}
		if s.desired == 0 && len(s.tasks) == 0 && s.rev.ID != a.current && (a.run == nil || !a.run.uses(s)) {
			a.removeSet(s)
		}
	}
}

// stopCandidates are the good tasks of s that can be stopped, in the
// order to stop them: not yet healthy first, then the newest.
func stopCandidates(s *taskSet) []*task {
	var out []*task
	for i := len(s.tasks) - 1; i >= 0; i-- {
		t := s.tasks[i]
		if !t.stopping && t.addr != "" && t.state != store.TaskUnhealthy {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(x, y *task) int {
		return cmp.Compare(healthRank(x), healthRank(y))
	})
	return out
}

func healthRank(t *task) int {
	if t.state == store.TaskHealthy {
		return 1
	}
	return 0
}

type healthChange struct{ id, state string }

// syncHealth copies the proxy's view of target health into the tasks and
// returns the changes to record. A task that turns unhealthy counts as a
// task failure; one that turns healthy ends a crash loop.
func (c *Controller) syncHealth(a *appState) []healthChange {
	states := map[[2]string]proxy.TargetState{}
	for _, ts := range c.router.Targets() {
		states[[2]string{ts.Group, ts.Target}] = ts
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var changes []healthChange
	for _, s := range a.sets {
		for _, t := range s.tasks {
			if !t.registered() {
				continue
			}
			ts, ok := states[[2]string{groupName(a.name, s.color), t.addr}]
			if !ok {
				continue
			}
			var st string
			switch {
			case ts.State == proxy.StateHealthy:
				st = store.TaskHealthy
			case ts.State == proxy.StateUnhealthy && ts.Reason != proxy.ReasonEjected:
				st = store.TaskUnhealthy
			case ts.State == proxy.StateInitial:
				st = store.TaskRunning
			default:
				continue
			}
			if st == t.state {
				continue
			}
			switch st {
			case store.TaskUnhealthy:
				s.fail()
			case store.TaskHealthy:
				s.consecutive = 0
			}
			t.state = st
			changes = append(changes, healthChange{t.id, st})
		}
	}
	return changes
}
