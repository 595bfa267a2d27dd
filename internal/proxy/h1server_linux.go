package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// The parker's own HTTP/1.1 server. On a parking listener (park.go) every
// connection is read by a loop of this file first: a plain request (an
// HTTP/1.1 head with no body, no upgrade, nothing unusual, and strictly
// well-formed) is parsed here and given to the listener's handler with
// the ResponseWriter of h1response.go. Anything else hands the connection
// to the listener's http.Server with that request's head unread, and
// net/http serves it, and every request after it until the connection is
// parked, as it always did: bodies, upgrades, h2c, HTTP/1.0, and each
// request net/http refuses, with net/http's own error.
//
// Why: per request, net/http's server costs more than the rest of the
// proxy (its response and chunk writers, a goroutine that watches the
// client while the request is served, deadlines set and reset around
// it; bench/RESULTS.md). This server does only what a plain request
// needs. It watches the client through the parker's poller instead: the
// connection is registered for EPOLLRDHUP while the loop serves it, and a
// client that closes or resets it cancels the request in flight, as
// net/http's background read does. A request read before that is still
// served: a client that half-closes after sending gets its answer.
//
// The loop keeps a connection while requests come back to back; one that
// sends nothing for parkAfter is parked, as under net/http.
//
// A cancelled request must stop waiting for its target's answer: the
// target connection it waits on is aborted (its deadline set in the
// past). net/http's requests do that with a context.AfterFunc per round
// trip (exchange.abortOnCancel); the own server's requests tell their
// connection instead (watch), which costs no allocation, and every way a
// request is cancelled goes through cancelRequest, which aborts it: the
// client's hang-up, a failed write to it, the exchange's own cancels (its
// target cut, its response timeout). The end of the listener's base
// context, which cancels requests from above, aborts through one
// AfterFunc per connection.

// h1conn is a connection the own server is serving.
type h1conn struct {
	p      *parker
	c      *parkConn
	remote string          // c.RemoteAddr().String(), for every request
	base   context.Context // the parent of each request's context
	bw     *bufio.Writer
	// The response being written, and its header map, reused for each
	// request: nothing keeps either once the handler has returned.
	w      h1response
	header http.Header
	answer answerWriter // writes each response's end (sendAwaiting)

	// Made once per connection: a method value is allocated each time
	// it is taken.
	watchTarget   func(net.Conn) (stop func() bool)
	unwatchTarget func() bool

	mu     sync.Mutex
	ctx    context.Context         // the request in flight's; nil between requests
	cancel context.CancelCauseFunc // ctx's
	target net.Conn                // the target connection the request waits on (watch)
}

// ready is called by the poller when the client closed or reset the
// connection (EPOLLRDHUP, EPOLLHUP, EPOLLERR) while the loop serves it:
// the request in flight is cancelled. The poller watches a socket once.
func (s *h1conn) ready() {
	s.mu.Lock()
	ctx, cancel := s.ctx, s.cancel
	s.mu.Unlock()
	if cancel != nil {
		s.cancelRequest(ctx, cancel, nil)
	}
}

// cancelRequest cancels the request whose context is ctx, and aborts the
// target connection it waits on if it is still the request in flight (a
// late cancel of a finished request must not touch the next one's).
func (s *h1conn) cancelRequest(ctx context.Context, cancel context.CancelCauseFunc, cause error) {
	cancel(cause)
	s.mu.Lock()
	var t net.Conn
	if s.ctx == ctx {
		t, s.target = s.target, nil
	}
	s.mu.Unlock()
	if t != nil {
		t.SetDeadline(aLongTimeAgo)
	}
}

// watch makes a cancel of the request in flight abort c, the target
// connection it waits on, as context.AfterFunc(ctx, abort) would; stop
// ends that, and reports false when c was aborted. The context is
// checked after c is noted: a cancel either finds c or came before the
// check.
func (s *h1conn) watch(c net.Conn) (stop func() bool) {
	s.mu.Lock()
	s.target = c
	ctx := s.ctx
	s.mu.Unlock()
	if ctx.Err() != nil {
		s.abortTarget()
	}
	return s.unwatchTarget
}

func (s *h1conn) unwatch() (notAborted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	notAborted = s.target != nil
	s.target = nil
	return notAborted
}

// abortTarget aborts the target connection watched, if any.
func (s *h1conn) abortTarget() {
	s.mu.Lock()
	t := s.target
	s.target = nil
	s.mu.Unlock()
	if t != nil {
		t.SetDeadline(aLongTimeAgo)
	}
}

// expired is called when the poller closes: the request being served
// goes on; the loop closes the connection after it.
func (s *h1conn) expired() {}

// serveOwn serves c's plain requests until it is parked, closed, or
// handed to net/http. isNew: c was just accepted, not woken.
func (p *parker) serveOwn(c *parkConn, isNew bool) {
	s := &h1conn{p: p, c: c}
	if addr := c.RemoteAddr(); addr != nil {
		s.remote = addr.String()
	}
	s.base = context.WithValue(p.base, http.LocalAddrContextKey, c.LocalAddr())
	s.watchTarget, s.unwatchTarget = s.watch, s.unwatch
	stopBase := context.AfterFunc(s.base, s.abortTarget)
	watched := p.poll.watchGone(c.fd, s) == nil
	c.own = true
	if c.tlsState == nil { // the socket carries the response as written
		if c.raw == nil {
			c.raw = rawConnOf(c.Conn)
		}
		s.answer.setRaw(c.raw)
		c.answer = &s.answer
	}
	toHTTP := s.loop(isNew)
	c.own, c.answer = false, nil
	stopBase()
	if watched {
		p.poll.forget(c.fd, s) // before c is parked or closed, when its fd can be reused
	}
	if s.bw != nil {
		s.bw.Reset(nil)
		p.writers.Put(s.bw)
	}
	if toHTTP {
		p.toHTTP(c)
	} else {
		c.Close() // parks it when its last wait found no request
	}
}

// loop serves requests until one is not plain (true: net/http is to
// serve it) or the connection is to be parked or closed (false).
func (s *h1conn) loop(isNew bool) (toHTTP bool) {
	c := s.c
	c.fresh = false
	// A parked connection is closed at its deadline: net/http's header
	// timeout before the first request, its idle timeout after each. A
	// wake-up does not move it: under TLS, part of a record wakes a
	// parked connection without giving it a byte of a request.
	if isNew {
		c.expireAt(time.Now().Add(readHeaderTimeout))
	}
	for {
		if err := c.nextHead(); err != nil {
			return false
		}
		if c.through || c.phase != phaseHead {
			return true
		}
		ctx, cancel := context.WithCancelCause(s.base)
		r, ok := parseRequest(ctx, (*c.buf)[c.r:c.r+c.headLeft], s.remote)
		if !ok {
			cancel(nil)
			return true
		}
		r.TLS = c.tlsState
		c.r += c.headLeft
		c.headLeft, c.phase = 0, phaseNext
		c.releaseIfEmpty()
		if !s.respond(r, cancel) {
			return false
		}
	}
}

// respond serves r and sends the end of its response, counted as busy
// throughout: a shutdown waits for the response to go out, and for the
// wait for the next request that comes with it (parkAfter at most). It
// reports whether the connection stays open.
func (s *h1conn) respond(r *http.Request, cancel context.CancelCauseFunc) (keep bool) {
	s.p.busy.Add(1) // before serve's check: a shutdown that missed it sees closed
	defer s.p.busy.Add(-1)
	keep = s.serve(r, cancel)
	cancel(nil) // as net/http, when the handler has returned
	if !keep {
		return false
	}
	s.c.expireAt(time.Now().Add(idleTimeout))
	return s.sendAwaiting() == nil
}

// sendAwaiting flushes the response's last bytes and waits for the next
// request's first without a read that finds nothing (answerWriter),
// under the deadline of that wait (parkConn.waitRequest), which reads it.
//
// A request that came before the flush does not end that wait: the
// wait ends at its deadline, parkAfter later, and the request wakes the
// connection as soon as it is parked. Only a client that sends
// before it has its response (pipelining) meets that, and its requests
// tend to come together: one found read already (in c.buf) marks the
// connection, whose responses are flushed plainly from then on.
func (s *h1conn) sendAwaiting() error {
	c := s.c
	if c.buf != nil {
		c.pipelined = true // the next request is here already
	}
	if c.pipelined || c.answer == nil || s.bw.Buffered() == 0 {
		return s.bw.Flush()
	}
	c.armWait()
	return c.answer.flush(s.bw)
}

// serve answers one request; it reports whether the connection stays
// open for the next.
func (s *h1conn) serve(r *http.Request, cancel context.CancelCauseFunc) (keep bool) {
	if s.p.closed() {
		return false // as net/http closes the idle connections it shuts down
	}
	ctx := r.Context()
	s.mu.Lock()
	s.ctx, s.cancel = ctx, cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.ctx, s.cancel, s.target = nil, nil, nil
		s.mu.Unlock()
	}()
	if s.bw == nil {
		s.bw = s.p.writers.Get().(*bufio.Writer)
		s.bw.Reset(s.c)
	}
	if s.header == nil {
		s.header = make(http.Header)
	}
	w := &s.w
	w.reset(s.bw, r, s.p, &s.p.date, s.header)
	w.ctx, w.cancelCtx, w.conn, w.watch = ctx, cancel, s, s.watchTarget
	if !s.handle(w, r) {
		return false
	}
	w.finish()
	keep = w.err == nil && !w.closeAfter && !s.p.closed()
	if !keep {
		w.flushWriter()
	}
	return keep // the response's last bytes are the loop's to send
}

// handle runs the handler; a panic ends the connection without finishing
// the response, as in net/http (http.ErrAbortHandler is how a handler
// says the response must not look complete).
func (s *h1conn) handle(w *h1response, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.p.log.Error("panic serving a request", "remote", s.remote, "panic", v)
			}
			ok = false
		}
	}()
	s.p.handler.ServeHTTP(w, r)
	return true
}
