package deploy

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cutover/cutover/internal/config"
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
			if c.forgotten(a) {
				return // destroyed
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-changed: // a health event
			}
		}
	})
}

// forgotten reports whether a is no longer one of the controller's apps.
func (c *Controller) forgotten(a *appState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apps[a.name] != a
}

// reconcile is one pass of the service scheduler, ECS's: it records
// target health, then per task set starts tasks up to the desired count
// of good ones (replacement first: an unhealthy task stays until enough
// others are healthy), and stops what is beyond it, each stop
// deregistering, draining, then stopping the task. Starts after failures
// back off; each new delay is reported once.
func (c *Controller) reconcile(ctx context.Context, a *appState) {
	for _, ch := range c.syncHealth(a) {
		c.updateTask(ctx, ch.id, "recording task health", func(st *store.Task) { st.State = ch.state })
	}

	c.mu.Lock()
	var notes []backoffNote
	now := time.Now()
	for _, s := range slices.Clone(a.sets) {
		if note, ok := c.scheduleSet(a, s, now); ok {
			notes = append(notes, note)
		}
		if s.desired == 0 && len(s.tasks) == 0 && s.rev.ID != a.current && (a.run == nil || !a.run.uses(s)) {
			a.removeSet(s)
		}
	}
	c.mu.Unlock()
	for _, n := range notes {
		c.log.Warn(n.Message, "app", a.name, "revision", n.Revision)
		c.event(ctx, "service.backoff", a.name, "", n)
	}
}

// scheduleSet starts and stops tasks of s toward its desired count, and
// returns a note when a start is held back by a delay not yet reported.
// Called with c.mu held.
func (c *Controller) scheduleSet(a *appState, s *taskSet, now time.Time) (backoffNote, bool) {
	if a.destroyed {
		s.desired = 0
	}
	resetBackoff(s, now)
	n := s.counts()
	surge := max(s.desired*a.cfg.Deploy.Rolling.MaxPercent/100, s.desired+1)
	appRoom := rollingRoom(a)
	room := min(s.desired-n.good, surge-n.live, appRoom)
	var note backoffNote
	held := room > 0 && now.Before(s.notBefore)
	if held {
		note, held = announce(s, now)
	} else {
		for range room {
			t := newTask(a.name, s)
			c.goLocked(func(ctx context.Context) { c.startTask(ctx, a, s, t) })
		}
	}
	var stop []*task
	// Unhealthy tasks go once enough others are healthy (replacement
	// first), or at once when the update leaves no room to start one.
	if n.healthy >= s.desired || appRoom <= 0 {
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
	return note, held
}

// rollingRoom is how many more tasks the app may run during a rolling
// update: ECS's maximumPercent bounds all its tasks, of both revisions,
// so a replacement in one set cannot add to a start in the other.
// Without a rolling update it does not bound.
func rollingRoom(a *appState) int {
	r := a.run
	if r == nil || r.d.Strategy != config.StrategyRolling {
		return math.MaxInt
	}
	roll := r.cfg.Deploy.Rolling
	maxTasks, _, err := RollingBounds(r.cfg.Service.Count, roll.MinHealthyPercent, roll.MaxPercent)
	if err != nil {
		return math.MaxInt // refused before the update started
	}
	for _, s := range a.sets {
		maxTasks -= len(s.tasks)
	}
	return maxTasks
}

// resetBackoff ends a crash loop once a task of s has been healthy for
// restartReset. Called with c.mu held.
func resetBackoff(s *taskSet, now time.Time) {
	if s.consecutive == 0 {
		return
	}
	for _, t := range s.tasks {
		if !t.stopping && !t.healthySince.IsZero() && now.Sub(t.healthySince) >= restartReset {
			s.consecutive, s.lastErr = 0, nil
			return
		}
	}
}

// backoffNote is the data of a service.backoff event: the set's next
// start waits.
type backoffNote struct {
	Message     string    `json:"message"`
	Revision    string    `json:"revision"`
	TaskSet     string    `json:"task_set"`
	Failures    int       `json:"failures"` // in a row
	NextAttempt time.Time `json:"next_attempt"`
	Error       string    `json:"error"`
}

// announce returns the note for s's current delay unless it was
// reported already. Called with c.mu held.
func announce(s *taskSet, now time.Time) (backoffNote, bool) {
	if s.announced.Equal(s.notBefore) {
		return backoffNote{}, false
	}
	s.announced = s.notBefore
	wait := s.notBefore.Sub(now).Round(time.Second)
	return backoffNote{
		Message:  fmt.Sprintf("restarts backing off: next attempt in %s: %v", wait, s.lastErr),
		Revision: s.rev.ID, TaskSet: s.color, Failures: s.consecutive, NextAttempt: s.notBefore, Error: fmt.Sprint(s.lastErr),
	}, true
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
// task failure; healthySince says how long one has been healthy, which
// ends a crash loop (resetBackoff).
func (c *Controller) syncHealth(a *appState) []healthChange {
	now := time.Now()
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
			st := ""
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
			if st == store.TaskHealthy && t.healthySince.IsZero() {
				t.healthySince = now
			}
			if st == t.state {
				continue
			}
			if st != store.TaskHealthy {
				t.healthySince = time.Time{}
			}
			if st == store.TaskUnhealthy {
				s.fail(fmt.Errorf("task %s turned unhealthy: %s", t.id, ts.Reason))
			}
			t.state = st
			changes = append(changes, healthChange{t.id, st})
		}
	}
	return changes
}
