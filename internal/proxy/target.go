package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/internal/health"
)

// errDeregistrationDelayOver is the cause of cancelling requests that were
// still running on a draining target when its delay ended.
var errDeregistrationDelayOver = errors.New("deregistration delay is over")

// target is one host:port of a target group. Its atomic fields are read on
// the request path; the rest is guarded by its group's mu.
type target struct {
	addr string

	health       atomic.Int32 // health.Status
	draining     atomic.Bool
	inFlight     atomic.Int64 // requests and upgraded connections
	ejectedUntil atomic.Int64 // Unix nanoseconds; 0 when not ejected
	failures     atomic.Int32 // consecutive failed requests
	slowFrom     atomic.Int64 // Unix nanoseconds slow start began; 0 when not in it
	stickyUntil  atomic.Int64 // draining: Unix nanoseconds sticky clients may come until; 0 for none

	// stickyID is the value of the sticky cookie that names t: random,
	// so that a client can name no other target and no address.
	stickyID string

	// cut is cancelled when the deregistration delay is over (cutOff):
	// relays and HTTP/2 connections end with it.
	cut    context.Context
	cutNow context.CancelCauseFunc
	// bound are the requests bound to the target (exchange.bind), which
	// cutOff cancels: a list through the exchanges rather than a
	// context.AfterFunc on cut for each, which cost three allocations
	// per request.
	boundMu  sync.Mutex
	bound    *exchange     // the first; exchange.boundPrev and boundNext link the rest
	cutCause error         // set by cutOff
	drained  chan struct{} // closed when a drain is complete

	conns connPool // the fast path's keep-alive connections to addr
	h2    h2Conns  // HTTP/2 connections to addr, for http2, h2c and grpc groups

	// Guarded by targetGroup.mu.
	reason      string
	drainTimer  *time.Timer
	stickyTimer *time.Timer // ends the sticky window of a draining target
}

func newTarget(addr string) *target {
	t := &target{addr: addr, drained: make(chan struct{}), stickyID: newStickyID()}
	t.cut, t.cutNow = context.WithCancelCause(context.Background())
	return t
}

// link adds x to the requests cutOff cancels. It returns the cause
// instead when t was cut already.
func (t *target) link(x *exchange) (cutCause error) {
	t.boundMu.Lock()
	defer t.boundMu.Unlock()
	if t.cutCause != nil {
		return t.cutCause
	}
	x.boundNext, x.boundPrev, x.isBound = t.bound, nil, true
	if t.bound != nil {
		t.bound.boundPrev = x
	}
	t.bound = x
	return nil
}

// unlink removes x from the requests cutOff cancels, if it is there.
func (t *target) unlink(x *exchange) {
	t.boundMu.Lock()
	defer t.boundMu.Unlock()
	if !x.isBound {
		return
	}
	if x.boundPrev != nil {
		x.boundPrev.boundNext = x.boundNext
	} else {
		t.bound = x.boundNext
	}
	if x.boundNext != nil {
		x.boundNext.boundPrev = x.boundPrev
	}
	x.boundPrev, x.boundNext, x.isBound = nil, nil, false
}

// cutOff ends everything that runs on t: cut's relays and HTTP/2
// connections, and each request bound to it, cancelled with cause.
func (t *target) cutOff(cause error) {
	t.cutNow(cause)
	t.boundMu.Lock()
	t.cutCause = cause
	var cancels []context.CancelCauseFunc
	for x := t.bound; x != nil; {
		// Read under the lock: a relay clears x.cancel after unlinking x.
		cancels = append(cancels, x.cancel)
		next := x.boundNext
		x.boundPrev, x.boundNext, x.isBound = nil, nil, false
		x = next
	}
	t.bound = nil
	t.boundMu.Unlock()
	for _, cancel := range cancels {
		cancel(cause)
	}
}

// acquire counts a new request on t. It fails when t started draining
// after it was picked, or when another request took its last free
// connection (maxConns, 0 for no limit); the count stays, and the caller
// undoes it with targetGroup.release (which completes the drain if it was
// the last) and picks again.
func (t *target) acquire(maxConns int64) bool {
	n := t.inFlight.Add(1)
	return !t.draining.Load() && (maxConns == 0 || n <= maxConns)
}

// full reports whether t has its group's maximum of requests in flight.
func (t *target) full(s *groupSettings) bool {
	return s.maxConns > 0 && t.inFlight.Load() >= s.maxConns
}

func (t *target) healthStatus() health.Status {
	return health.Status(t.health.Load())
}

func (t *target) ejected(now int64) bool {
	until := t.ejectedUntil.Load()
	return until != 0 && now < until
}

// routable reports whether t may get new requests: healthy, not draining
// and not ejected. now is read lazily: most targets are never ejected.
func (t *target) routable(now *int64) bool {
	if t.draining.Load() || t.healthStatus() != health.StatusHealthy {
		return false
	}
	if t.ejectedUntil.Load() == 0 {
		return true
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	return !t.ejected(*now)
}
