package deploy

import (
	"context"
	"fmt"
	"html"
	"slices"
	"unicode/utf8"

	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

// Maintenance mode, as kamal-proxy's stop and resume: while it is on, the
// app's production route is an ALB fixed-response action (503, the page,
// Retry-After) instead of its weighted forward. Nothing else changes: the
// target groups stay registered and health-checked, the scheduler and
// deployments run as usual (a deployment shifts weights that take effect
// when maintenance ends), and the test listener keeps forwarding, so a new
// revision can be tried before production comes back. The state is in the
// store, so a restarted controller pushes it again, and the data plane
// keeps it with its configuration.

// Limits of maintenance mode.
const (
	MaxMaintenancePage       = proxy.MaxFixedResponseBody // bytes
	MaxMaintenanceRetryAfter = proxy.MaxRetryAfter        // seconds
)

// SetMaintenance turns the app's maintenance mode on, or changes its page
// (HTML; "" for a plain default page) or Retry-After (seconds), and
// returns it. Turning it on again with the same page changes nothing.
func (c *Controller) SetMaintenance(ctx context.Context, app, page string, retryAfter int) (store.Maintenance, error) {
	switch {
	case len(page) > MaxMaintenancePage:
		return store.Maintenance{}, fmt.Errorf("%w: maintenance page of %s: %d bytes; valid: at most %d (1 MiB)", store.ErrInvalid, app, len(page), MaxMaintenancePage)
	case !utf8.ValidString(page):
		return store.Maintenance{}, fmt.Errorf("%w: maintenance page of %s: not UTF-8 text; valid: an HTML page in UTF-8", store.ErrInvalid, app)
	case retryAfter < 1 || retryAfter > MaxMaintenanceRetryAfter:
		return store.Maintenance{}, fmt.Errorf("%w: maintenance of %s: retry_after %d is out of range; valid: 1-%d seconds", store.ErrInvalid, app, retryAfter, MaxMaintenanceRetryAfter)
	}
	var m store.Maintenance
	err := c.changeMaintenance(ctx, app, "on", func() error {
		var err error
		m, err = c.store.SetMaintenance(ctx, app, page, retryAfter)
		return err
	}, func(a *appState) { a.maintenance = maintenanceResponse(app, m) })
	return m, err
}

// ClearMaintenance turns the app's maintenance mode off: its production
// route forwards again at once, on the connections clients keep open.
func (c *Controller) ClearMaintenance(ctx context.Context, app string) error {
	return c.changeMaintenance(ctx, app, "off", func() error {
		return c.store.ClearMaintenance(ctx, app)
	}, func(a *appState) { a.maintenance = nil })
}

// changeMaintenance records a change with write, applies it to the app's
// state with set and pushes the proxy configuration. Changes are
// serialized, so the state pushed last is the one stored last.
func (c *Controller) changeMaintenance(ctx context.Context, app, what string, write func() error, set func(*appState)) error {
	if err := c.waitStarted(ctx); err != nil {
		return err
	}
	c.maintMu.Lock()
	defer c.maintMu.Unlock()
	c.mu.Lock()
	a, ok := c.apps[app]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("turning maintenance %s for app %s: %w", what, app, store.ErrNotFound)
	}
	if err := write(); err != nil {
		return fmt.Errorf("turning maintenance %s for app %s: %w", what, app, err)
	}
	c.mu.Lock()
	set(a)
	c.mu.Unlock()
	if err := c.applyProxy(ctx); err != nil {
		return fmt.Errorf("turning maintenance %s for app %s: recorded, but %w; it is pushed again with the next change", what, app, err)
	}
	return nil
}

// resumeMaintenance gives a resumed app its stored maintenance mode.
func (c *Controller) resumeMaintenance(ctx context.Context, a *appState) error {
	m, err := c.store.GetMaintenance(ctx, a.name)
	if err != nil {
		return err
	}
	a.maintenance = maintenanceResponse(a.name, m)
	return nil
}

// maintenanceResponse is the fixed response of m, nil when it is off.
func maintenanceResponse(app string, m store.Maintenance) *proxy.FixedResponseConfig {
	if !m.On {
		return nil
	}
	page := m.Page
	if page == "" {
		page = DefaultMaintenancePage(app)
	}
	return &proxy.FixedResponseConfig{
		StatusCode:  503,
		ContentType: "text/html; charset=utf-8",
		Body:        page,
		RetryAfter:  m.RetryAfter,
	}
}

// DefaultMaintenancePage is the page of an app in maintenance that was
// given none.
func DefaultMaintenancePage(app string) string {
	name := html.EscapeString(app)
	return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + name + ` is down for maintenance</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem">
<h1>Down for maintenance</h1>
<p>` + name + ` is down for maintenance and will be back shortly. Please try again in a few minutes.</p>
</body>
</html>
`
}

// maintain turns the app's routes on l, its production listener, into
// fixed responses while the app is in maintenance (fixed is not nil).
// They are found by the app's target groups, which no other app's
// routes name.
func maintain(l *proxy.ListenerConfig, app string, fixed *proxy.FixedResponseConfig) {
	if fixed == nil {
		return
	}
	mine := func(fc proxy.ForwardConfig) bool {
		return slices.ContainsFunc(fc.TargetGroups, func(w proxy.WeightedTargetGroup) bool {
			return w.Name == groupName(app, colorBlue) || w.Name == groupName(app, colorGreen)
		})
	}
	if mine(l.Default) {
		l.Default, l.DefaultFixedResponse = proxy.ForwardConfig{}, fixed
	}
	for i := range l.Rules {
		if r := &l.Rules[i]; mine(r.Forward) {
			r.Forward, r.FixedResponse = proxy.ForwardConfig{}, fixed
		}
	}
}
