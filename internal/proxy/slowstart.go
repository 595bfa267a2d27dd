package proxy

import (
	"math/rand/v2"
	"time"
)

// Slow start, as on ALB: a target that becomes healthy (newly registered,
// or healthy again) while the group has another routable target gets a
// share that grows linearly over the group's SlowStart, from nothing to
// what it would get anyway. A target assumed healthy (re-adopted from a
// previous process) was serving already and does not slow start, nor does
// a target that is the group's only routable one: holding it back would
// only hold requests back.
//
// The ramp is a gate on the balancer: each time the balancer would pick
// the target, it takes it with probability elapsed/SlowStart and
// otherwise moves on to the next candidate. With round robin over n
// targets its share is thus (elapsed/SlowStart)/n, linear from 0 to 1/n.
// With least outstanding requests, which would flood a new idle target,
// it gets at most elapsed/SlowStart of the requests, and less once the
// others' loads meet its own. A fallback (every other target gone) does
// not look at the gate: slow start never turns a request into a 503.

// beginSlowStart starts t's ramp if the group has slow start on and
// another routable target. Called with g.mu held.
func (g *targetGroup) beginSlowStart(t *target) {
	if g.settings.Load().slowStart <= 0 {
		return
	}
	var now int64
	for _, o := range *g.active.Load() {
		if o != t && o.routable(&now) {
			t.slowFrom.Store(time.Now().UnixNano())
			g.log.Info("target in slow start", "target", t.addr, "slow_start", g.settings.Load().slowStart)
			return
		}
	}
}

// admits reports whether t takes a request it was picked for: it is not
// at the group's connection cap, and it passes its slow start gate.
func (t *target) admits(s *groupSettings, now *int64) bool {
	if t.full(s) {
		return false
	}
	from := t.slowFrom.Load()
	if from == 0 {
		return true
	}
	if s.slowStart <= 0 { // turned off since
		return true
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	f := float64(*now-from) / float64(s.slowStart)
	if f >= 1 {
		t.slowFrom.CompareAndSwap(from, 0) // the ramp is over
		return true
	}
	return rand.Float64() < f
}

// hasRoutable reports whether the group has a target that may get
// requests now.
func (g *targetGroup) hasRoutable() bool {
	var now int64
	for _, t := range *g.active.Load() {
		if t.routable(&now) {
			return true
		}
	}
	return false
}
