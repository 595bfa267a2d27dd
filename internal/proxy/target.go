package proxy

import (
	"context"
	"errors"
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

	// cut is cancelled when the deregistration delay is over; every
	// request to the target is cancelled with it.
	cut     context.Context
	cutNow  context.CancelCauseFunc
	drained chan struct{} // closed when a drain is complete

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
