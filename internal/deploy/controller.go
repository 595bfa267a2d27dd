package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/proxy/metrics"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox"
	"github.com/cutover/cutover/internal/store"
)

// Router is what the controller needs from the load balancer: the data
// plane process through *dataplane.Conn, or an in-process *proxy.Proxy.
type Router interface {
	// Apply moves the load balancer to the whole desired configuration.
	Apply(ctx context.Context, cfg proxy.Config) error
	Drained(group, target string) <-chan struct{}
	// Targets returns every target's state; Changed is closed at the
	// next change of it, so schedulers wake on health events.
	Targets() []proxy.TargetState
	Changed() <-chan struct{}
	Addr(listener string) net.Addr
	Window(group string, d time.Duration) metrics.WindowStats
}

// Options are the Controller's dependencies.
type Options struct {
	Store  *store.Store
	Driver runtime.Driver
	Proxy  Router
	Logger *slog.Logger // nil: discard
	// DataDir holds per-deployment files: hook logs under
	// <DataDir>/deployments/<id>/hooks.log.
	DataDir string
	// Tick is how often the scheduler looks at tasks and target health;
	// default 200ms.
	Tick time.Duration
	// Sandbox runs command hooks (see package sandbox); nil runs them
	// unconfined, and the hook log says so.
	Sandbox *sandbox.Sandbox
	// RetainReleases is how many release directories per app retention
	// keeps under <DataDir>/releases/<app> (releases.go); 0:
	// DefaultRetainReleases, negative: all.
	RetainReleases int
}

// RevisionSpec is what Deploy deploys.
type RevisionSpec struct {
	Artifact string      // the release directory (process runtime) or image (docker)
	Commit   string      // the git commit it was built from, if any
	Config   *config.App // the configuration to deploy; nil: the app's current one
	// Earlier is set by RollbackTo: the earlier revision deployed again.
	// Config is then that revision's, with the app's current count.
	Earlier string
}

// Controller runs apps' services and deployments. Create it with New,
// register apps with PutApp, then Run it.
type Controller struct {
	store   *store.Store
	driver  runtime.Driver
	router  Router
	log     *slog.Logger
	dataDir string
	tick    time.Duration
	sandbox *sandbox.Sandbox // runs command hooks

	retainReleases int       // Options.RetainReleases
	sizes          sizeCache // of release directories (releases.go)

	applyMu sync.Mutex // serializes building and applying proxy configs
	maintMu sync.Mutex // serializes maintenance mode changes (maintenance.go)

	writes *writeback // writes the store refused, retried

	mu   sync.Mutex // guards the fields below
	apps map[string]*appState
	ctx  context.Context // Run's; nil until Run has resumed everything
	wg   sync.WaitGroup  // goroutines started under ctx

	started chan struct{} // closed once Run has resumed
}

// New returns a Controller. It does nothing until Run.
func New(opts Options) *Controller {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := opts.Tick
	if tick <= 0 {
		tick = 200 * time.Millisecond
	}
	return &Controller{
		store:   opts.Store,
		driver:  opts.Driver,
		router:  opts.Proxy,
		log:     log,
		dataDir: opts.DataDir,
		tick:    tick,
		sandbox: opts.Sandbox,
		writes:  newWriteback(),
		apps:    make(map[string]*appState),
		started: make(chan struct{}),

		retainReleases: opts.RetainReleases,
	}
}

// Started returns a channel that is closed once Run has rebuilt the state
// from the store and the proxy serves it; Deploy works from then on.
func (c *Controller) Started() <-chan struct{} { return c.started }

// Run resumes every app and active deployment from the store, then runs
// the schedulers and deployments until ctx ends. The proxy is configured
// from the store before anything else, so production serves again at
// once. When ctx ends Run returns after its goroutines; it stops no task
// (tasks outlive cutover). Run a Controller once.
func (c *Controller) Run(ctx context.Context) error {
	res, err := c.resume(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.ctx = ctx
	c.goLocked(c.retryWrites)
	for _, w := range res.watch {
		c.goLocked(func(ctx context.Context) { c.watchTask(ctx, w.a, w.s, w.t) })
	}
	for _, st := range res.stale {
		c.goLocked(func(ctx context.Context) { c.stopStale(ctx, st) })
	}
	for _, id := range res.strays {
		c.goLocked(func(ctx context.Context) { c.stopStray(ctx, id) })
	}
	for _, a := range c.apps {
		c.startScheduler(a)
	}
	for _, r := range res.runs {
		c.startRun(r)
	}
	c.mu.Unlock()
	close(c.started)
	<-ctx.Done()
	c.wg.Wait()
	return nil
}

// waitStarted waits until Run has resumed, or ctx ends. A controller
// that has started says so even to an ended ctx, so the caller's own
// error is the one reported.
func (c *Controller) waitStarted(ctx context.Context) error {
	select {
	case <-c.started:
		return nil
	default:
	}
	select {
	case <-c.started:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the controller to start: %w", ctx.Err())
	}
}

// goLocked starts fn under Run's context. Called with c.mu held.
func (c *Controller) goLocked(fn func(ctx context.Context)) {
	ctx := c.ctx
	c.wg.Go(func() { fn(ctx) })
}

// PutApp registers an app or updates its configuration. It starts no
// deployment: a new configuration reaches running tasks with the next
// deployment; listeners, the health check, the deregistration delay and
// the task count apply at once. Like Deploy, it first waits until Run has
// resumed (or ctx ends). To deploy a new configuration, give it to Deploy
// instead: a refused or rolled-back deployment then leaves the app as it
// was.
func (c *Controller) PutApp(ctx context.Context, app config.App) error {
	if err := c.waitStarted(ctx); err != nil {
		return fmt.Errorf("putting app %s: %w", app.Name, err)
	}
	if err := c.checkApp(app); err != nil {
		return fmt.Errorf("putting app %s: %w", app.Name, err)
	}
	if err := c.adoptConfig(ctx, app); err != nil {
		return fmt.Errorf("putting app %s: %w", app.Name, err)
	}
	return c.applyProxy(ctx)
}

// checkApp refuses a configuration the controller cannot run.
func (c *Controller) checkApp(app config.App) error {
	if app.Name == "" {
		return errors.New("the app has no name")
	}
	if app.Deploy.Strategy == config.StrategyRolling {
		if _, _, err := RollingBounds(app.Service.Count, app.Deploy.Rolling.MinHealthyPercent, app.Deploy.Rolling.MaxPercent); err != nil {
			return err
		}
	}
	if app.Listeners.Production == "" {
		return errors.New("it has no production listener")
	}
	if app.Listeners.Production == app.Listeners.Test {
		return fmt.Errorf("the production and test listeners are both %s; give the test listener its own address", app.Listeners.Test)
	}
	return c.checkListeners(app)
}

// adoptConfig makes app the app's configuration, in the store and in
// memory, registering the app if it is new. The caller applies the proxy.
func (c *Controller) adoptConfig(ctx context.Context, app config.App) error {
	spec, err := json.Marshal(app)
	if err != nil {
		return fmt.Errorf("encoding its configuration: %w", err)
	}
	_, err = c.store.UpdateApp(ctx, app.Name, func(a *store.App) error {
		a.Spec, a.DesiredCount = spec, app.Service.Count
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		err = c.store.PutApp(ctx, store.App{Name: app.Name, Spec: spec, DesiredCount: app.Service.Count})
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[app.Name]
	if a == nil {
		a = &appState{name: app.Name, color: colorBlue, test: colorBlue, prod: map[string]int{colorBlue: 100}}
		c.apps[app.Name] = a
		c.startScheduler(a)
	}
	a.cfg, a.routed = app, app.Listeners
	if a.run == nil {
		if s := a.set(a.current); s != nil {
			s.desired = app.Service.Count
		}
	}
	return nil
}

// checkListeners refuses an app that would take over a route another
// app serves on a shared listener: the default action (no hosts) of a
// listener another app serves without hosts, or a host another app on
// the same listener claims. The error names both apps.
func (c *Controller) checkListeners(app config.App) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(c.apps)) {
		a := c.apps[name]
		if a.name == app.Name {
			continue
		}
		if err := schemeConflict(app, a.cfg); err != nil {
			return err
		}
		for _, mine := range []string{app.Listeners.Production, app.Listeners.Test} {
			for _, theirs := range []string{a.cfg.Listeners.Production, a.cfg.Listeners.Test} {
				if mine == "" || mine != theirs {
					continue
				}
				if err := hostConflict(app, a.cfg, mine); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// hostConflict says why app and other cannot share listener addr, nil
// when they can: each serves its own hosts, or one of them is the
// listener's default action.
func hostConflict(app, other config.App, addr string) error {
	if len(app.Listeners.Hosts) == 0 && len(other.Listeners.Hosts) == 0 {
		return fmt.Errorf("listener %s is already used by app %s without hosts; give %s or %s listeners.hosts", addr, other.Name, app.Name, other.Name)
	}
	for _, h := range app.Listeners.Hosts {
		for _, o := range other.Listeners.Hosts {
			if normalHost(h) == normalHost(o) {
				return fmt.Errorf("host %s on listener %s is already claimed by app %s; app %s cannot claim it too", h, addr, other.Name, app.Name)
			}
		}
	}
	return nil
}

// normalHost is a host pattern as the proxy compares it.
func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// applyProxy builds the proxy configuration from every app's state and
// applies it. Building and applying are serialized, so the last Apply
// always reflects the newest state.
func (c *Controller) applyProxy(ctx context.Context) error {
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	c.mu.Lock()
	cfg := buildProxyConfig(c.apps)
	c.mu.Unlock()
	if len(cfg.Listeners) == 0 {
		return nil // no app has a listener yet; the proxy needs one
	}
	if err := c.router.Apply(context.WithoutCancel(ctx), cfg); err != nil {
		return fmt.Errorf("configuring the proxy: %w", err)
	}
	return nil
}

// Wait blocks until the deployment has ended, or ctx ends, and returns it.
func (c *Controller) Wait(ctx context.Context, deploymentID string) (store.Deployment, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		d, err := c.store.GetDeployment(ctx, deploymentID)
		if err != nil {
			return store.Deployment{}, err
		}
		if !d.Active() {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-t.C:
		}
	}
}

// event appends a controller event to the store's log. An event the
// store refuses is logged and kept to append later; failing to log is not
// fatal.
func (c *Controller) event(ctx context.Context, typ, app, deployment string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		c.log.Error("encoding event", "type", typ, "app", app, "err", err)
		return
	}
	e := store.Event{Type: typ, App: app, Deployment: deployment, Data: raw, Actor: store.Actor(ctx)}
	if _, err := c.store.Append(context.WithoutCancel(ctx), e); err != nil {
		c.log.Warn("recording event; keeping it to retry", "type", typ, "app", app, "err", err)
		e.At = time.Now()
		c.holdEvent(e, err)
		return
	}
	c.writes.storeWorks()
}
