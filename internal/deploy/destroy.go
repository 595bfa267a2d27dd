package deploy

import (
	"context"
	"fmt"

	"github.com/cutover/cutover/internal/store"
)

// Destroy takes an app out of service for good, as `heroku apps:destroy`
// and `dokku apps:destroy` do: every task is deregistered, drained and
// stopped by the app's scheduler (its count is 0 from now on), then the
// app's routes and target groups leave the load balancer, which frees its
// listeners and hosts for other apps, and the store forgets the app with
// its revisions, tasks and deployments (the event log keeps what was
// logged). Other apps on shared listeners keep serving throughout.
//
// It is refused while a deployment or a restart of the app runs. Deploy,
// Scale and Restart are refused once it has begun. If cutover stops before
// it ends, the app comes back with its count on the next start; run
// Destroy again.
func (c *Controller) Destroy(ctx context.Context, app string) error {
	if err := c.waitStarted(ctx); err != nil {
		return err
	}
	a, err := c.beginDestroy(app)
	if err != nil {
		return err
	}
	if err := c.refuseActive(ctx, app); err != nil {
		// A deployment recorded just before Destroy began.
		c.mu.Lock()
		a.destroyed = false
		c.mu.Unlock()
		return fmt.Errorf("destroying %s: %w", app, err)
	}
	c.event(ctx, "app.destroying", app, "", nil)
	if err := c.waitStopped(ctx, a); err != nil {
		return fmt.Errorf("destroying %s: %w", app, err)
	}
	c.mu.Lock()
	delete(c.apps, app)
	c.mu.Unlock()
	if err := c.applyProxy(ctx); err != nil {
		return fmt.Errorf("destroying %s: %w", app, err)
	}
	if err := c.store.DeleteApp(ctx, app); err != nil {
		return fmt.Errorf("destroying %s: %w", app, err)
	}
	return nil
}

// beginDestroy marks the app destroyed, which takes its count to 0.
func (c *Controller) beginDestroy(app string) (*appState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.apps[app]
	switch {
	case !ok:
		return nil, fmt.Errorf("destroying %s: %w", app, store.ErrNotFound)
	case a.destroyed:
		return nil, fmt.Errorf("destroying %s: %w: it is being destroyed", app, store.ErrConflict)
	case a.run != nil:
		return nil, fmt.Errorf("destroying %s: %w: deployment %s; stop it first with `cutover stop %s`", app, store.ErrDeploymentInProgress, a.run.d.ID, a.run.d.ID)
	case a.restarting:
		return nil, fmt.Errorf("destroying %s: %w: a restart is running; destroy once it has ended", app, store.ErrConflict)
	}
	a.destroyed = true
	return a, nil
}

// waitStopped waits until the app has no task left.
func (c *Controller) waitStopped(ctx context.Context, a *appState) error {
	c.mu.Lock()
	sets := append([]*taskSet(nil), a.sets...)
	c.mu.Unlock()
	for _, s := range sets {
		if err := c.waitEmpty(ctx, s); err != nil {
			return fmt.Errorf("stopping its tasks: %w", err)
		}
	}
	return nil
}
