package proxy

import "time"

// ReasonEjected is the Reason of a target ejected by passive outlier
// detection.
const ReasonEjected = "Outlier.Ejected"

// observe feeds one request outcome of t into passive outlier detection:
// a failure is a connection error, a timeout or a 5xx response.
func (g *targetGroup) observe(t *target, failed bool) {
	s := g.settings.Load()
	if s.consecutiveFailures == 0 {
		return
	}
	if !failed {
		if t.failures.Load() != 0 { // avoid a shared write per request
			t.failures.Store(0)
		}
		return
	}
	if int(t.failures.Add(1)) >= s.consecutiveFailures {
		g.eject(t, s)
	}
}

// eject stops traffic to t for the ejection period. After it, t returns
// once its health status is healthy (routable checks both). The last
// routable target of a group is never ejected: with nowhere else to go,
// ejecting it would turn one target's errors into 503s for everyone.
func (g *targetGroup) eject(t *target, s *groupSettings) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now().UnixNano()
	if t.draining.Load() || t.ejected(now) || int(t.failures.Load()) < s.consecutiveFailures {
		return // raced with another request that did this already
	}
	t.failures.Store(0)
	others := 0
	for _, o := range *g.active.Load() {
		if o != t && o.routable(&now) {
			others++
		}
	}
	if others == 0 {
		g.log.Warn("target failing but not ejected: it is the group's last routable target",
			"target", t.addr, "consecutive_failures", s.consecutiveFailures)
		return
	}
	t.ejectedUntil.Store(now + int64(s.ejection))
	g.changed()
	g.log.Warn("target ejected", "target", t.addr,
		"consecutive_failures", s.consecutiveFailures, "ejection", s.ejection)
}
