package metrics

import (
	"sync"
	"sync/atomic"
	"time"
)

// Observation is one finished request.
type Observation struct {
	Listener    string // listener name, e.g. "production"
	TargetGroup string // "" when no group was chosen (e.g. 503 no target)
	Target      string // host:port, "" when none
	// Status is the status code the client got, including the proxy's own
	// 502/503/504. A status outside 100-599 is counted as a 5xx error.
	Status int
	// ProxyError is true when the proxy made the response itself (502 bad
	// gateway, 503 no target, 504 timeout) rather than relaying the
	// target's. The status alone cannot tell a target's 502 from the
	// proxy's. Proxy-made 5xx responses are counted in
	// cutover_proxy_errors_total; ProxyError with a status below 500 is
	// ignored there.
	ProxyError bool
	// Fixed is true when a fixed-response action answered (maintenance
	// mode); these are counted in cutover_fixed_responses_total too.
	Fixed    bool
	Duration time.Duration // from request start to response end
	BytesIn  int64         // request body bytes read
	BytesOut int64         // response body bytes written
}

// Registry holds the series of every listener, target group and target
// the proxy has seen. The zero value is not usable; call NewRegistry.
type Registry struct {
	now func() time.Time

	// mu serializes creating and forgetting series. Observe and Start do
	// not take it once their series exists.
	mu            sync.Mutex
	targets       cowMap[targetKey, *targetSeries]
	routes        cowMap[routeKey, *routeSeries]
	groupWindows  cowMap[string, *window]
	targetWindows cowMap[groupTarget, *window]
	fixed         cowMap[fixedKey, *atomic.Int64] // see fixed.go
	refusals      cowMap[limitKey, *atomic.Int64] // see limits.go

	conns atomic.Pointer[func() []ListenerConns] // see SetConnections
}

type targetKey struct{ listener, group, target string }

type routeKey struct{ listener, group string }

type groupTarget struct{ group, target string }

// targetSeries is everything Observe and Start touch for one label set,
// so that the hot path does a single map lookup.
type targetSeries struct {
	classes  [5]atomic.Int64 // requests by status class, 1xx..5xx
	inFlight atomic.Int64
	done     func() // decrements inFlight; made once so Start does not allocate

	route        *routeSeries
	groupWindow  *window
	targetWindow *window
}

// routeSeries holds the per listener and target group counters.
type routeSeries struct {
	durations   [numDurationBuckets + 1]atomic.Int64 // per bucket, not cumulative; last is +Inf
	durationSum atomic.Int64                         // nanoseconds
	bytesIn     atomic.Int64
	bytesOut    atomic.Int64
	proxyErrors [100]atomic.Int64 // by status - 500
}

// NewRegistry returns an empty Registry that reads the time from time.Now,
// which testing/synctest fakes inside a bubble.
func NewRegistry() *Registry {
	return NewRegistryWithClock(time.Now)
}

// NewRegistryWithClock returns an empty Registry that reads the time from
// now. Only the Unix second matters: it picks the sliding window slot.
func NewRegistryWithClock(now func() time.Time) *Registry {
	return &Registry{now: now}
}

// Observe records a finished request. The sliding windows file it under
// the second Observe is called in, so call it when the response ends. It
// is safe for concurrent use and does not allocate once the label set has
// been seen.
func (r *Registry) Observe(o Observation) {
	s := r.series(o.Listener, o.TargetGroup, o.Target)
	class := statusClass(o.Status)
	s.classes[class-1].Add(1)

	rt := s.route
	rt.durations[durationBucket(o.Duration)].Add(1)
	rt.durationSum.Add(int64(max(o.Duration, 0)))
	rt.bytesIn.Add(max(o.BytesIn, 0))
	rt.bytesOut.Add(max(o.BytesOut, 0))
	if o.ProxyError && o.Status >= 500 && o.Status <= 599 {
		rt.proxyErrors[o.Status-500].Add(1)
	}
	if o.Fixed {
		r.fixedCounter(o.Listener, o.Status).Add(1)
	}

	sec := r.now().Unix()
	failed := class == 5
	s.groupWindow.record(sec, o.Duration, failed)
	s.targetWindow.record(sec, o.Duration, failed)
}

// Start marks a request in flight for the listener, group and target; the
// returned func marks it done and must be called exactly once. It is safe
// for concurrent use and does not allocate once the label set has been
// seen.
func (r *Registry) Start(listener, group, target string) (done func()) {
	s := r.series(listener, group, target)
	s.inFlight.Add(1)
	return s.done
}

// ForgetTarget drops the series of a removed target, on every listener,
// so that memory does not grow as targets come and go. Call it once the
// target has drained: its in-flight gauge goes with it. The target's past
// requests stay counted in its group's series and window. A request that
// finishes later brings the series back.
func (r *Registry) ForgetTarget(group, target string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.targets.deleteFunc(func(k targetKey) bool {
		return k.group == group && k.target == target
	})
	r.targetWindows.deleteFunc(func(k groupTarget) bool {
		return k == groupTarget{group, target}
	})
}

// ForgetGroup drops every series of a removed target group and its
// targets, on every listener.
func (r *Registry) ForgetGroup(group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.targets.deleteFunc(func(k targetKey) bool { return k.group == group })
	r.routes.deleteFunc(func(k routeKey) bool { return k.group == group })
	r.groupWindows.deleteFunc(func(g string) bool { return g == group })
	r.targetWindows.deleteFunc(func(k groupTarget) bool { return k.group == group })
}

// series returns the series of a label set, creating it (and the group,
// route and target series it points to) on first use.
func (r *Registry) series(listener, group, target string) *targetSeries {
	key := targetKey{listener, group, target}
	if s, ok := r.targets.load(key); ok {
		return s
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.targets.load(key); ok {
		return s
	}
	rk := routeKey{listener, group}
	route, ok := r.routes.load(rk)
	if !ok {
		route = new(routeSeries)
		r.routes.store(rk, route)
	}
	gw, ok := r.groupWindows.load(group)
	if !ok {
		gw = newWindow()
		r.groupWindows.store(group, gw)
	}
	gt := groupTarget{group, target}
	tw, ok := r.targetWindows.load(gt)
	if !ok {
		tw = newWindow()
		r.targetWindows.store(gt, tw)
	}
	s := &targetSeries{route: route, groupWindow: gw, targetWindow: tw}
	s.done = func() { s.inFlight.Add(-1) }
	r.targets.store(key, s)
	return s
}

// Window returns the stats of one target group over the last d: see the
// package comment for how d is rounded. An unknown group has zero stats.
func (r *Registry) Window(group string, d time.Duration) WindowStats {
	w, ok := r.groupWindows.load(group)
	if !ok {
		return WindowStats{}
	}
	return w.stats(r.now().Unix(), windowSeconds(d))
}

// TargetWindow is Window for one target of a group. Target "" holds the
// group's requests that reached no target.
func (r *Registry) TargetWindow(group, target string, d time.Duration) WindowStats {
	w, ok := r.targetWindows.load(groupTarget{group, target})
	if !ok {
		return WindowStats{}
	}
	return w.stats(r.now().Unix(), windowSeconds(d))
}

// statusClass returns 1 for 1xx up to 5 for 5xx. A status outside 100-599
// is no response a client could use, so it counts as 5.
func statusClass(status int) int {
	if status < 100 || status > 599 {
		return 5
	}
	return status / 100
}
