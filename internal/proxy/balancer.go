package proxy

import (
	"math/rand/v2"

	"github.com/cutover/cutover/internal/health"
)

// action is a weighted forward action, or a fixed response, ready for
// the request path.
type action struct {
	groups []weightedGroup // only groups with weight > 0
	total  int
	fixed  *fixedResponse // set: answer with it, groups is empty
	sticky bool           // a group has stickiness (see sticky.go)
}

type weightedGroup struct {
	group  *targetGroup
	weight int
}

// pick chooses a group by weight and a target in it, and counts the
// request on that target. It returns a nil target when no group of the
// action has a routable target. exclude (may be nil) is a target that just
// failed this request.
func (a *action) pick(exclude *target) (*targetGroup, *target) {
	if a == nil || a.total == 0 {
		return nil, nil
	}
	first := 0
	if len(a.groups) > 1 {
		n := rand.IntN(a.total)
		for n >= a.groups[first].weight {
			n -= a.groups[first].weight
			first++
		}
	}
	// Falling back to the other weighted groups is a deliberate
	// improvement over ALB (see the package comment).
	for i := range a.groups {
		g := a.groups[(first+i)%len(a.groups)].group
		if t := g.pickAcquire(exclude); t != nil {
			return g, t
		}
	}
	return nil, nil
}

// pickAcquire picks a target and counts a request on it. A target can
// start draining, or fill up to its group's connection cap, between being
// picked and being counted; then it picks again.
func (g *targetGroup) pickAcquire(exclude *target) *target {
	for range 3 {
		s := g.settings.Load()
		t := g.pick(s, exclude)
		if t == nil {
			return nil
		}
		if t.acquire(s.maxConns) {
			return t
		}
		// startDrain may have seen this request's count and left the
		// drain to the last release.
		g.release(t)
	}
	return nil
}

// pick chooses a target of the group for a new request, or nil.
func (g *targetGroup) pick(s *groupSettings, exclude *target) *target {
	ts := *g.active.Load()
	n := uint64(len(ts))
	if n == 0 {
		return nil
	}
	start := g.rr.Add(1)
	if s.algorithm == LeastOutstandingRequests {
		return leastOutstanding(s, ts, start, exclude)
	}
	var now int64
	for i := range n {
		t := ts[(start+i)%n]
		if t != exclude && t.routable(&now) && t.admits(s, &now) {
			return t
		}
	}
	return fallback(s, ts, start, exclude)
}

// leastOutstanding picks the routable target with the fewest requests in
// flight; start spreads ties.
func leastOutstanding(s *groupSettings, ts []*target, start uint64, exclude *target) *target {
	var best *target
	var bestN int64
	var now int64
	n := uint64(len(ts))
	for i := range n {
		t := ts[(start+i)%n]
		if t == exclude || !t.routable(&now) || !t.admits(s, &now) {
			continue
		}
		if c := t.inFlight.Load(); best == nil || c < bestN {
			best, bestN = t, c
		}
	}
	if best == nil {
		return fallback(s, ts, start, exclude)
	}
	return best
}

// fallback is used when no target is routable: first a healthy target
// that is only ejected, then, if every target is unhealthy, any of them
// (fail open, as ALB does). Targets in state initial never get traffic,
// full ones neither; slow start does not hold back a fallback.
func fallback(s *groupSettings, ts []*target, start uint64, exclude *target) *target {
	n := uint64(len(ts))
	allUnhealthy := true
	for i := range n {
		t := ts[(start+i)%n]
		switch t.healthStatus() {
		case health.StatusHealthy:
			if t != exclude && !t.draining.Load() && !t.full(s) {
				return t
			}
			allUnhealthy = false
		case health.StatusInitial:
			allUnhealthy = false
		}
	}
	if !allUnhealthy {
		return nil
	}
	for i := range n {
		if t := ts[(start+i)%n]; t != exclude && !t.draining.Load() && !t.full(s) {
			return t
		}
	}
	return nil
}
