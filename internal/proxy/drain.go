package proxy

import "time"

// startDrain takes t out of service: it gets no new requests from now on,
// its health check stops, and its in-flight requests may run for delay.
// Called with g.mu held; the caller publishes the new target list.
func (g *targetGroup) startDrain(t *target, delay time.Duration) {
	t.draining.Store(true)
	t.h2.shutdown(t.cut)
	g.checker.Remove(t.addr)
	g.changed()
	g.log.Info("target draining", "target", t.addr, "in_flight", t.inFlight.Load(), "deregistration_delay", delay)
	t.drainTimer = time.AfterFunc(delay, func() { g.drainDelayOver(t) })
	if g.holdsDrains() {
		g.openStickyWindow(t, delay)
	}
	// A request that acquired t before draining was set is counted in
	// inFlight; one that acquires after sees draining and backs off.
	// So inFlight == 0 here means nothing can reach t any more.
	// A sticky group keeps the target for its sticky clients.
	if t.inFlight.Load() == 0 && !t.holdsSticky() {
		g.finishDrain(t, "no requests in flight")
	}
}

// stopDrain returns a draining target to service, e.g. when Apply lists
// it again. Called with g.mu held.
func (g *targetGroup) stopDrain(t *target) {
	t.drainTimer.Stop()
	t.drainTimer = nil
	t.closeStickyWindow()
	t.draining.Store(false)
	g.changed()
	g.log.Info("target registered again while draining", "target", t.addr)
}

// release ends a request on t. The last request of a draining target
// completes its drain.
func (g *targetGroup) release(t *target) {
	if t.inFlight.Add(-1) == 0 && t.draining.Load() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if t.draining.Load() && t.inFlight.Load() == 0 && !t.holdsSticky() {
			g.finishDrain(t, "no requests in flight")
		}
	}
}

// drainDelayOver cuts whatever still runs on t when its deregistration
// delay ends.
func (g *targetGroup) drainDelayOver(t *target) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !t.draining.Load() || g.targets[t.addr] != t {
		return // registered again, or already drained
	}
	if n := t.inFlight.Load(); n > 0 {
		g.log.Warn("deregistration delay over; cutting requests", "target", t.addr, "in_flight", n)
	}
	t.cutOff(errDeregistrationDelayOver)
	g.finishDrain(t, "deregistration delay over")
}

// finishDrain forgets a drained target and wakes those waiting in
// Drained. Called with g.mu held.
func (g *targetGroup) finishDrain(t *target, why string) {
	if g.targets[t.addr] != t {
		return
	}
	delete(g.targets, t.addr)
	t.conns.close()
	t.h2.close()
	if t.drainTimer != nil {
		t.drainTimer.Stop()
	}
	t.closeStickyWindow()
	close(t.drained)
	g.changed()
	g.metrics.ForgetTarget(g.name, t.addr)
	g.log.Info("target drained", "target", t.addr, "why", why)
	g.publish()
	g.finishIfDrained()
}

// finishIfDrained closes a retired group's health checker once its last
// target has drained. Called with g.mu held.
func (g *targetGroup) finishIfDrained() {
	if !g.retired || g.finished || len(g.targets) > 0 {
		return
	}
	g.finished = true
	checker := g.checker
	g.wg.Go(checker.Close) // Close waits for callbacks, which take mu
	g.log.Info("target group removed")
}

// drainedChan returns the channel closed when addr has drained; a closed
// one when the group does not know addr.
func (g *targetGroup) drainedChan(addr string) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.targets[addr]; t != nil {
		return t.drained
	}
	return closedChan()
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
