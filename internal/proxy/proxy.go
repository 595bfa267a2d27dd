package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// Options are the dependencies of a Proxy.
type Options struct {
	Logger  *slog.Logger      // nil: discard
	Metrics *metrics.Registry // nil: a new one
	// DisableFastPath forwards every request with httputil.ReverseProxy.
	// By default, bodiless HTTP/1.x requests take a faster HTTP/1.1 path
	// with the same behaviour (see fastForwarder).
	DisableFastPath bool
	// CertDir is where ACME certificates are kept (0700); "" refuses
	// listeners with TLS.ACMEHosts.
	CertDir string
	// Inherited are listening sockets handed over by the process this one
	// replaces, by the address they were configured with. Apply takes one
	// for a listener of that address instead of binding anew; Close closes
	// those never taken.
	Inherited map[string]net.Listener
}

// States a target can be in, as Targets reports them (ALB's names). ALB's
// "unused" is not reported: a drained target is forgotten, and a group no
// listener routes to is still health-checked and reports its health, so
// the controller can health-gate a group before sending it traffic.
const (
	StateInitial   = "initial"
	StateHealthy   = "healthy"
	StateUnhealthy = "unhealthy" // also while ejected, with Reason ReasonEjected
	StateDraining  = "draining"
)

// TargetState is one target as Targets reports it.
type TargetState struct {
	Group    string
	Target   string // host:port
	State    string // StateInitial, StateHealthy, StateUnhealthy or StateDraining
	Reason   string // ALB-style reason code, e.g. "Target.ResponseCodeMismatch"
	InFlight int    // requests and upgraded connections in flight
}

// Proxy is the load balancer. Create it with New, configure it with
// Apply, stop it with Close.
type Proxy struct {
	log     *slog.Logger
	metrics *metrics.Registry
	rp      *reverseProxyForwarder
	fwd     Forwarder // rp, or the fast path in front of it
	ids     *requestIDs
	acme    *acme.Manager  // nil without Options.CertDir
	wg      sync.WaitGroup // background work: retiring listeners, closing checkers
	changes changes        // see Changed
	// inherited are listening sockets handed over by a previous process,
	// by configured address; bind takes them before binding anew.
	inherited map[string]net.Listener

	// stopping is cancelled when Close starts; retiring listeners then
	// stop waiting for their grace period.
	stopping context.Context
	stop     context.CancelFunc

	mu        sync.Mutex // serializes Apply and Close; held across no network I/O (Apply reads stored certificates)
	listeners map[string]*listener
	groups    map[string]*targetGroup
	retired   []*targetGroup // removed from the Config, still draining
	closed    bool
}

// New returns a Proxy with no listeners.
func New(opts Options) *Proxy {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := opts.Metrics
	if m == nil {
		m = metrics.NewRegistry()
	}
	rp := newReverseProxyForwarder(log)
	var fwd Forwarder = rp
	if !opts.DisableFastPath {
		fwd = newFastForwarder(rp)
	}
	p := &Proxy{
		log:       log,
		metrics:   m,
		rp:        rp,
		fwd:       fwd,
		ids:       newRequestIDs(),
		listeners: make(map[string]*listener),
		groups:    make(map[string]*targetGroup),
		inherited: maps.Clone(opts.Inherited),
	}
	if opts.CertDir != "" {
		p.acme = acme.New(log, opts.CertDir)
	}
	p.stopping, p.stop = context.WithCancel(context.Background())
	m.SetConnections(p.connections)
	return p
}

// connections reports each listener's client connections, by name.
func (p *Proxy) connections() []metrics.ListenerConns {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]metrics.ListenerConns, 0, len(p.listeners))
	for name, l := range p.listeners {
		out = append(out, metrics.ListenerConns{
			Listener: name, Open: l.lim.open.Load(), Max: l.lim.max.Load(), Waits: l.lim.waits.Load(),
			Parked: int64(l.parker.parkedCount()),
		})
	}
	slices.SortFunc(out, func(a, b metrics.ListenerConns) int { return strings.Compare(a.Listener, b.Listener) })
	return out
}

// Metrics returns the registry the proxy records every request in.
func (p *Proxy) Metrics() *metrics.Registry { return p.metrics }

// Apply validates cfg and moves the proxy to it atomically. New sockets
// are bound first; if one cannot be bound, or cfg is invalid, Apply
// returns an error and nothing changes. Listeners whose address stays
// keep their sockets and connections; target groups whose name stays keep
// their targets' state; removed targets drain; removed listeners shut down
// gracefully. Apply is cheap and safe to call often.
func (p *Proxy) Apply(ctx context.Context, cfg Config) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid proxy config: %w", err)
	}
	cfg = cfg.WithDefaults()
	if err := p.checkACME(cfg); err != nil {
		return err
	}
	certs, err := loadCertificates(cfg.Listeners)
	if err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errProxyIsClosed
	}
	reuse, err := p.matchListeners(cfg.Listeners)
	if err != nil {
		return err
	}
	bound, err := p.bindNew(cfg.Listeners, reuse)
	if err != nil {
		return err
	}

	// Nothing below can fail. The stored certificates are loaded before
	// a new listener serves: a data plane taking over or restarted after
	// a crash has them from its first handshake.
	if err := p.applyACME(cfg); err != nil {
		p.log.Error("managing ACME certificates", "err", err)
	}
	p.install(cfg, reuse, bound, certs)
	return nil
}

// install makes cfg the running configuration: its target groups, and
// its listeners, each a running one kept (reuse) or a new one bound
// (bound), configured and serving; the listeners cfg no longer lists
// retire. Called with p.mu held.
func (p *Proxy) install(cfg Config, reuse, bound map[string]*listener, certs map[string]*tls.Certificate) {
	groups := p.applyGroups(cfg.TargetGroups)
	listeners := make(map[string]*listener, len(cfg.Listeners))
	kept := make(map[*listener]bool)
	for _, lc := range cfg.Listeners {
		l := reuse[lc.Name]
		if l == nil {
			l = bound[lc.Name]
		}
		kept[l] = true
		if cert := certs[lc.Name]; cert != nil {
			l.cert.Store(cert)
		}
		l.configure(lc)
		l.policy.Store(buildFront(lc))
		l.routes.Store(buildRoutes(lc, groups))
		if bound[lc.Name] != nil {
			l.serve(lc.Name)
		}
		listeners[lc.Name] = l
	}
	for _, l := range p.listeners {
		if !kept[l] {
			p.retireListener(l, cfg.TargetGroups)
		}
	}
	p.listeners = listeners
}

// loadCertificates loads the certificate files of the TLS listeners that
// name them, by listener.
func loadCertificates(lcs []ListenerConfig) (map[string]*tls.Certificate, error) {
	certs := make(map[string]*tls.Certificate)
	for _, lc := range lcs {
		if lc.TLS == nil || len(lc.TLS.ACMEHosts) > 0 {
			continue
		}
		cert, err := tls.LoadX509KeyPair(lc.TLS.CertFile, lc.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("listener %s: loading TLS certificate: %w", lc.Name, err)
		}
		certs[lc.Name] = &cert
	}
	return certs, nil
}

// bindNew binds the listeners that keep no running one's socket, by
// name; when one fails, those bound before it are closed.
func (p *Proxy) bindNew(lcs []ListenerConfig, reuse map[string]*listener) (map[string]*listener, error) {
	bound := make(map[string]*listener)
	for _, lc := range lcs {
		if reuse[lc.Name] != nil {
			continue
		}
		l, err := p.bind(lc)
		if err != nil {
			for _, b := range bound {
				b.ln.Close()
			}
			return nil, err
		}
		bound[lc.Name] = l
	}
	return bound, nil
}

// matchListeners finds, for each configured listener, a running one whose
// socket it can keep: the same name and address, or else (a rename) the
// same fixed address.
func (p *Proxy) matchListeners(lcs []ListenerConfig) (map[string]*listener, error) {
	reuse := make(map[string]*listener)
	taken := make(map[*listener]bool)
	for _, lc := range lcs {
		if l := p.listeners[lc.Name]; l != nil && l.addr == lc.Address && l.tls == (lc.TLS != nil) {
			reuse[lc.Name] = l
			taken[l] = true
		}
	}
	for _, lc := range lcs {
		if reuse[lc.Name] != nil || strings.HasSuffix(lc.Address, ":0") {
			continue
		}
		for name, l := range p.listeners {
			if taken[l] || l.addr != lc.Address {
				continue
			}
			if l.tls != (lc.TLS != nil) {
				return nil, fmt.Errorf("listener %s: cannot switch TLS on or off on %s while listener %s serves it; use another address", lc.Name, lc.Address, name)
			}
			reuse[lc.Name] = l
			taken[l] = true
		}
	}
	return reuse, nil
}

// applyGroups moves the target groups to tgs and returns them by name.
// Called with p.mu held.
func (p *Proxy) applyGroups(tgs []TargetGroupConfig) map[string]*targetGroup {
	p.retired = slices.DeleteFunc(p.retired, (*targetGroup).isFinished)
	groups := make(map[string]*targetGroup, len(tgs))
	for _, tgc := range tgs {
		g := p.groups[tgc.Name]
		if g == nil {
			// A group removed earlier and listed again returns with its
			// draining targets, if it still has any.
			if i := slices.IndexFunc(p.retired, func(r *targetGroup) bool { return r.name == tgc.Name }); i >= 0 {
				g = p.retired[i]
				p.retired = slices.Delete(p.retired, i, i+1)
			}
		}
		if g == nil || !g.update(tgc) {
			g = newTargetGroup(tgc.Name, p.log, p.metrics, &p.wg)
			g.onChange = p.changes.signal
			g.update(tgc)
		}
		groups[tgc.Name] = g
	}
	for name, g := range p.groups {
		if groups[name] == nil {
			g.retire()
			p.retired = append(p.retired, g)
		}
	}
	p.groups = groups
	p.changes.signal()
	return groups
}

// retireListener shuts a removed listener down in the background: its
// requests may run as long as the longest deregistration delay.
func (p *Proxy) retireListener(l *listener, tgs []TargetGroupConfig) {
	grace := DefaultDeregistrationDelay
	if len(tgs) > 0 {
		grace = 0
		for _, tg := range tgs {
			grace = max(grace, tg.DeregistrationDelay)
		}
	}
	p.wg.Go(func() {
		ctx, cancel := context.WithTimeout(p.stopping, grace)
		defer cancel()
		l.shutdown(ctx)
	})
}

// Addr returns the bound address of a listener, nil if there is none by
// that name. Useful with ":0" addresses.
func (p *Proxy) Addr(listener string) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[listener]; l != nil {
		return l.ln.Addr()
	}
	return nil
}

// Drained returns a channel that is closed once target carries no traffic
// after its removal (no requests or upgraded connections in flight), or
// once its deregistration delay is over. It is closed at once for a
// target the proxy does not know.
func (p *Proxy) Drained(group, target string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.groups[group]; g != nil {
		return g.drainedChan(target)
	}
	for _, g := range p.retired {
		if g.name == group {
			return g.drainedChan(target)
		}
	}
	return closedChan()
}

// Targets returns the state of every target, draining ones included,
// sorted by group name and then in config order.
func (p *Proxy) Targets() []TargetState {
	p.mu.Lock()
	groups := make([]*targetGroup, 0, len(p.groups)+len(p.retired))
	for _, g := range p.groups {
		groups = append(groups, g)
	}
	groups = append(groups, p.retired...)
	p.mu.Unlock()
	slices.SortStableFunc(groups, func(a, b *targetGroup) int { return strings.Compare(a.name, b.name) })
	var out []TargetState
	for _, g := range groups {
		out = append(out, g.states()...)
	}
	return out
}

// Close shuts the proxy down: listeners stop accepting, requests and
// upgraded connections may finish until ctx is done, then everything left
// is cut and health checks stop.
func (p *Proxy) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, ln := range p.inherited {
		ln.Close()
	}
	p.inherited = nil
	listeners := p.listeners
	groups := append(slices.Collect(maps.Values(p.groups)), p.retired...)
	p.listeners, p.groups, p.retired = nil, nil, nil
	p.mu.Unlock()

	p.stop()
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners))
	for _, l := range listeners {
		wg.Go(func() { errs <- l.shutdown(ctx) })
	}
	wg.Wait()
	close(errs)
	for _, g := range groups {
		g.close()
	}
	p.wg.Wait()
	p.rp.transport.CloseIdleConnections()
	if p.acme != nil {
		p.acme.Close()
	}
	var err error
	for e := range errs {
		err = errors.Join(err, e)
	}
	if err != nil {
		return fmt.Errorf("closing proxy: %w", err)
	}
	return nil
}

// close stops a group for good: drains end, everything left is cut, the
// health checker stops.
func (g *targetGroup) close() {
	g.mu.Lock()
	targets := slices.Collect(maps.Values(g.targets))
	for _, t := range targets {
		if t.drainTimer != nil {
			t.drainTimer.Stop()
		}
		t.cutOff(errProxyClosed)
		t.conns.close()
		t.h2.close()
		close(t.drained)
	}
	clear(g.targets)
	checker := g.checker
	g.finished = true
	g.mu.Unlock()
	if checker != nil {
		checker.Close()
	}
}

var (
	errProxyClosed   = errors.New("proxy closed") // cause of requests cut by Close
	errProxyIsClosed = errors.New("proxy is closed")
)
