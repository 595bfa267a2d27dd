package proxy

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// groupSettings are the parts of a TargetGroupConfig the request path
// reads; they are replaced as a whole.
type groupSettings struct {
	algorithm           string
	protocol            string // ProtocolHTTP1, ...; "" is ProtocolHTTP1
	responseTimeout     time.Duration
	deregistrationDelay time.Duration
	consecutiveFailures int // 0: outlier detection off
	ejection            time.Duration
	slowStart           time.Duration // 0: off
	sticky              StickinessConfig
	maxBodySize         int64 // 0: no limit
	maxConns            int64 // per target; 0: no limit
}

// targetGroup is one named set of targets with its health checker. It
// lives across Apply calls for as long as its name stays in the Config,
// and after that until its targets have drained.
type targetGroup struct {
	name    string
	log     *slog.Logger
	metrics *metrics.Registry
	wg      *sync.WaitGroup // the Proxy's: background work to wait for on Close
	// onChange, when set, is told of every change Targets would show.
	onChange func()

	settings atomic.Pointer[groupSettings]
	// active lists the registered, non-draining targets in config order.
	// The slice is never modified after it is stored.
	active atomic.Pointer[[]*target]
	// known maps every target, draining ones too, for health callbacks,
	// which must not take mu. Never modified after it is stored.
	known atomic.Pointer[map[string]*target]
	// sticky maps the sticky cookie values of the targets in known to
	// them. Never modified after it is stored.
	sticky atomic.Pointer[map[string]*target]
	rr     atomic.Uint64 // round-robin position
	gen    atomic.Uint64 // generation of the current health checker

	mu       sync.Mutex // guards the fields below; never held across I/O
	cfg      TargetGroupConfig
	targets  map[string]*target // registered and draining
	checker  *health.Checker
	retired  bool // removed from the Config; closes when drained
	finished bool // retired, drained and its checker closed
}

func newTargetGroup(name string, log *slog.Logger, m *metrics.Registry, wg *sync.WaitGroup) *targetGroup {
	g := &targetGroup{
		name:    name,
		log:     log.With("group", name),
		metrics: m,
		wg:      wg,
		targets: make(map[string]*target),
	}
	g.active.Store(new([]*target))
	g.known.Store(new(map[string]*target))
	g.sticky.Store(new(map[string]*target))
	g.settings.Store(new(groupSettings))
	return g
}

// update moves the group to cfg, which has defaults applied: settings are
// swapped, new targets are registered and start health checks, targets no
// longer listed start draining. It reports whether the group is usable
// (false when it already finished retiring; the caller makes a new one).
func (g *targetGroup) update(cfg TargetGroupConfig) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.finished {
		return false
	}
	g.retired = false
	g.settings.Store(settingsOf(cfg))

	var oldChecker *health.Checker
	if g.checker == nil || cfg.HealthCheck != g.cfg.HealthCheck {
		oldChecker = g.checker
		g.newChecker(cfg.HealthCheck)
	}
	g.drainUnlisted(cfg.Targets)
	added, assumed := g.addListed(cfg, oldChecker != nil)
	g.cfg = cfg
	serving := g.hasRoutable()
	g.publish()
	for _, t := range added {
		if cfg.HealthCheck.Disabled {
			g.register(t, health.StatusHealthy, health.ReasonHealthCheckDisabled)
			if serving {
				g.beginSlowStart(t) // not among targets registered together
			}
		} else {
			g.register(t, health.StatusInitial, health.ReasonInitialHealthChecking)
		}
	}
	for _, t := range assumed {
		g.register(t, health.StatusHealthy, "")
	}
	if oldChecker != nil {
		g.wg.Go(oldChecker.Close) // Close waits for callbacks, which take mu
	}
	return true
}

// drainUnlisted starts draining the targets that are not in addrs; g.mu
// is held.
func (g *targetGroup) drainUnlisted(addrs []string) {
	delay := g.settings.Load().deregistrationDelay
	listed := make(map[string]bool, len(addrs))
	for _, addr := range addrs {
		listed[addr] = true
	}
	for addr, t := range g.targets {
		if !listed[addr] && !t.draining.Load() {
			g.startDrain(t, delay)
		}
	}
}

// addListed makes a target for each new address of cfg and takes back the
// listed ones that were draining. It returns those to register: added ones
// health-checked first, assumed ones (cfg.AssumeHealthy) healthy at once.
// When the checker was replaced, kept targets are added to the new one.
// g.mu is held.
func (g *targetGroup) addListed(cfg TargetGroupConfig, checkerReplaced bool) (added, assumed []*target) {
	for _, addr := range cfg.Targets {
		t := g.targets[addr]
		switch {
		case t == nil:
			t = newTarget(addr)
			g.targets[addr] = t
			if slices.Contains(cfg.AssumeHealthy, addr) {
				assumed = append(assumed, t)
			} else {
				added = append(added, t)
			}
		case t.draining.Load():
			g.stopDrain(t)
			added = append(added, t)
		case checkerReplaced:
			// A new checker starts from scratch; the target keeps its
			// status until the new checker reports a change.
			g.checker.Add(addr)
		}
	}
	return added, assumed
}

func settingsOf(cfg TargetGroupConfig) *groupSettings {
	s := &groupSettings{
		algorithm:           cfg.Algorithm,
		protocol:            cfg.Protocol,
		responseTimeout:     cfg.ResponseTimeout,
		deregistrationDelay: max(cfg.DeregistrationDelay, 0),
		ejection:            cfg.Outlier.Ejection,
		slowStart:           cfg.SlowStart,
		sticky:              cfg.Stickiness,
		maxBodySize:         cfg.MaxBodySize,
		maxConns:            int64(cfg.MaxConnectionsPerTarget),
	}
	if cfg.Outlier.ConsecutiveFailures > 0 {
		s.consecutiveFailures = cfg.Outlier.ConsecutiveFailures
	}
	return s
}

// newChecker replaces the health checker. Callbacks from an older checker
// are ignored by generation.
func (g *targetGroup) newChecker(cfg health.Config) {
	gen := g.gen.Add(1)
	g.checker = health.NewChecker(cfg, func(r health.Result) { g.onHealth(gen, r) })
}

// register gives a new or returning target its first status (initial,
// or healthy when checks are disabled or the target is in AssumeHealthy)
// and starts its health check. The checker starts from initial either way
// and reports when the target passes or fails its thresholds.
func (g *targetGroup) register(t *target, s health.Status, reason string) {
	g.log.Info("target registered", "target", t.addr, "state", s.String())
	t.health.Store(int32(s))
	t.reason = reason
	g.checker.Add(t.addr)
	g.changed()
}

// changed tells the proxy's listeners of a state change.
func (g *targetGroup) changed() {
	if g.onChange != nil {
		g.onChange()
	}
}

// publish stores the lists the request path and health callbacks read.
// Called with mu held.
func (g *targetGroup) publish() {
	active := make([]*target, 0, len(g.cfg.Targets))
	for _, addr := range g.cfg.Targets {
		if t := g.targets[addr]; t != nil && !t.draining.Load() {
			active = append(active, t)
		}
	}
	if g.retired {
		active = nil
	}
	known := make(map[string]*target, len(g.targets))
	sticky := make(map[string]*target, len(g.targets))
	for addr, t := range g.targets {
		known[addr] = t
		sticky[t.stickyID] = t
	}
	g.active.Store(&active)
	g.known.Store(&known)
	g.sticky.Store(&sticky)
}

// onHealth records a status change reported by the health checker.
func (g *targetGroup) onHealth(gen uint64, r health.Result) {
	if gen != g.gen.Load() {
		return
	}
	t := (*g.known.Load())[r.Target]
	if t == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setHealth(t, r.Status, r.Reason)
}

// setHealth stores a health status and logs the change. Called with mu held.
func (g *targetGroup) setHealth(t *target, s health.Status, reason string) {
	t.reason = reason
	if old := t.healthStatus(); old == s {
		return
	}
	t.health.Store(int32(s))
	if s == health.StatusHealthy {
		g.beginSlowStart(t)
	} else {
		t.slowFrom.Store(0)
	}
	g.changed()
	attrs := []any{"target", t.addr}
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	g.log.Info("target "+s.String(), attrs...)
}

// retire starts draining every target of a group that left the Config.
// Called with the Proxy's mu held.
func (g *targetGroup) retire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.retired = true
	delay := g.settings.Load().deregistrationDelay
	for _, t := range g.targets {
		switch {
		case !t.draining.Load():
			g.startDrain(t, delay)
		default:
			// Held for sticky clients, who cannot reach it any more.
			t.closeStickyWindow()
			if t.inFlight.Load() == 0 {
				g.finishDrain(t, "no requests in flight")
			}
		}
	}
	g.publish()
	g.finishIfDrained()
}

// isFinished reports whether a retired group is gone for good.
func (g *targetGroup) isFinished() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.finished
}

// states returns the group's targets as Targets reports them.
func (g *targetGroup) states() []TargetState {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now().UnixNano()
	out := make([]TargetState, 0, len(g.targets))
	for _, t := range g.targets {
		st := TargetState{Group: g.name, Target: t.addr, State: t.healthStatus().String(), Reason: t.reason, InFlight: int(t.inFlight.Load())}
		switch {
		case t.draining.Load():
			st.State, st.Reason = StateDraining, "Target.DeregistrationInProgress"
		case t.ejected(now):
			st.State, st.Reason = StateUnhealthy, ReasonEjected
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b TargetState) int {
		return slices.Index(g.cfg.Targets, a.Target) - slices.Index(g.cfg.Targets, b.Target)
	})
	return out
}
