package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Restart replaces every task of the app's current revision, gated on
// health, as `heroku ps:restart` and ECS's force-new-deployment do: as
// many new tasks as run are started first, and once all of them are
// healthy the old ones are deregistered, drained and stopped. It returns
// when the new tasks are healthy; the old ones drain after. Refused while
// a deployment runs. If ctx ends first, the count goes back and the
// scheduler stops the extra tasks.
func (c *Controller) Restart(ctx context.Context, app string) error {
	if err := c.waitStarted(ctx); err != nil {
		return err
	}
	a, s, old, err := c.beginRestart(app)
	if err != nil {
		return err
	}
	c.event(ctx, "service.restarting", app, "", map[string]int{"tasks": len(old)})
	if err := c.waitHealthy(ctx, a, s, s.desired); err != nil {
		c.endRestart(a, s, nil)
		return fmt.Errorf("restarting %s: %w", app, err)
	}
	c.endRestart(a, s, old)
	return nil
}

// beginRestart raises the current set's count by its running tasks,
// which it returns.
func (c *Controller) beginRestart(app string) (*appState, *taskSet, []*task, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.apps[app]
	switch {
	case !ok:
		return nil, nil, nil, fmt.Errorf("restarting %s: %w", app, store.ErrNotFound)
	case a.destroyed:
		return nil, nil, nil, fmt.Errorf("restarting %s: %w: the app is being destroyed", app, store.ErrConflict)
	case a.restarting:
		return nil, nil, nil, fmt.Errorf("restarting %s: %w: a restart is already running", app, store.ErrConflict)
	case a.run != nil:
		return nil, nil, nil, fmt.Errorf("restarting %s: %w: deployment %s; restart once it has ended", app, store.ErrDeploymentInProgress, a.run.d.ID)
	}
	s := a.set(a.current)
	if a.current == "" || s == nil {
		return nil, nil, nil, fmt.Errorf("restarting %s: %w: the app has no running revision", app, store.ErrConflict)
	}
	var old []*task
	for _, t := range s.tasks {
		if !t.stopping {
			old = append(old, t)
		}
	}
	s.desired = a.cfg.Service.Count + len(old)
	a.restarting = true
	return a, s, old, nil
}

// waitHealthy waits until s has want healthy tasks, ctx ends, or a
// deployment begins.
func (c *Controller) waitHealthy(ctx context.Context, a *appState, s *taskSet, want int) error {
	tick := time.NewTicker(c.tick)
	defer tick.Stop()
	for {
		c.mu.Lock()
		healthy, run := s.counts().healthy, a.run
		c.mu.Unlock()
		switch {
		case healthy >= want:
			return nil
		case run != nil:
			return fmt.Errorf("%w: deployment %s began", store.ErrDeploymentInProgress, run.d.ID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// endRestart puts the set's count back and stops the old tasks, which
// the new ones have replaced.
func (c *Controller) endRestart(a *appState, s *taskSet, old []*task) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.restarting = false
	if a.run == nil {
		s.desired = a.cfg.Service.Count
	}
	for _, t := range old {
		if !t.stopping {
			t.stopping = true
			c.goLocked(func(ctx context.Context) { c.stopTask(ctx, a, s, t) })
		}
	}
}
