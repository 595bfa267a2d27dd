package deploy

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Scale sets the app's desired count without a new revision, as ECS's
// UpdateService desiredCount does: the scheduler starts new tasks of the
// current revision, which join the load balancer once healthy, or
// deregisters, drains and stops the tasks beyond the count. It is refused
// while a deployment runs (ErrDeploymentInProgress). The count is the
// app's for later deployments too, until cutover.yaml's service.count
// changes (withKept).
func (c *Controller) Scale(ctx context.Context, app string, count int) error {
	if count < 1 || count > config.MaxCount {
		return fmt.Errorf("%w: scaling %s: count %d is out of range; valid: 1-%d", store.ErrInvalid, app, count, config.MaxCount)
	}
	if err := c.waitStarted(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	a, ok := c.apps[app]
	var spec []byte
	var err error
	switch {
	case !ok:
		err = fmt.Errorf("scaling %s: %w", app, store.ErrNotFound)
	case a.destroyed:
		err = fmt.Errorf("scaling %s: %w: the app is being destroyed", app, store.ErrConflict)
	case a.run != nil:
		err = fmt.Errorf("scaling %s: %w: deployment %s; scale once it has ended", app, store.ErrDeploymentInProgress, a.run.d.ID)
	case a.current == "":
		err = fmt.Errorf("scaling %s: %w: the app has no running revision yet", app, store.ErrConflict)
	default:
		cfg := a.cfg
		cfg.Service.Count = count
		spec, err = json.Marshal(cfg)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.applyScale(ctx, a, spec, count)
}

// applyScale records the new count, then gives it to the current task
// set, whose scheduler moves toward it.
func (c *Controller) applyScale(ctx context.Context, a *appState, spec []byte, count int) error {
	var from int
	_, err := c.store.UpdateApp(ctx, a.name, func(sa *store.App) error {
		from = sa.DesiredCount
		sa.DesiredCount, sa.Spec = count, spec
		return nil
	})
	if err == nil {
		// Kept for later deployments; see withKept.
		err = c.store.SetScaledCount(ctx, a.name, count, from)
	}
	if err != nil {
		return fmt.Errorf("scaling %s: %w", a.name, err)
	}
	c.mu.Lock()
	if a.run != nil {
		// A deployment began meanwhile: it sets the count at its end.
		id := a.run.d.ID
		c.mu.Unlock()
		return fmt.Errorf("scaling %s: %w: deployment %s", a.name, store.ErrDeploymentInProgress, id)
	}
	a.cfg.Service.Count = count
	if s := a.set(a.current); s != nil {
		s.desired = count
	}
	c.mu.Unlock()
	c.event(ctx, "service.scaled", a.name, "", map[string]int{"from": from, "to": count})
	return nil
}
