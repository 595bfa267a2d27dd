package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/internal/proxy/metrics"
)

// statusClientClosed is recorded when the client went away before it got
// a response (nginx's 499).
const statusClientClosed = 499

type exchangeKey struct{}

// exchange is the state of one proxied request: where it was routed, and
// what came of it. The Forwarder finds it through the ResponseWriter it is
// given, the exchange's responseRecorder (exchangeFor); the reverse proxy
// path carries it on in the request context for its hooks (exchangeOf).
type exchange struct {
	listener string
	metrics  *metrics.Registry
	act      *action
	start    time.Time

	ctx    context.Context
	cancel context.CancelCauseFunc
	// watch, when the own server serves the request, is how a target
	// connection is aborted when the request is cancelled
	// (abortOnCancel); nil otherwise.
	watch func(net.Conn) (stop func() bool)

	// Set by bind; changed by a retry.
	group       *targetGroup
	target      *target
	metricsDone func()
	retried     bool
	// Links in the target's list of bound requests (target.link);
	// guarded by the target's boundMu.
	boundPrev, boundNext *exchange
	isBound              bool

	requestID string
	tls       bool // the client connection is TLS: the sticky cookie is Secure
	w         responseRecorder
	body      countingBody

	// Outcome, written by the Forwarder.
	status         int // set when the proxy answers itself
	upstreamStatus int

	// An upgraded connection is relayed after the handler returns
	// (upgrade.go); the relay finishes the exchange.
	relays   *relays         // the listener's; nil where upgrades are not relayed
	base     context.Context // the listener's base context: its end cuts relays
	inFlight *atomic.Int64   // the listener's requests and upgraded connections
	detached bool            // a relay took the exchange over
}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// exchangeFor returns the exchange w records, or nil when w is not an
// exchange's (a Forwarder called directly).
func exchangeFor(w http.ResponseWriter) *exchange {
	switch w := w.(type) {
	case *responseRecorder:
		return w.x
	case earlyBytesKeeper:
		return w.x
	}
	return nil
}

// withExchange returns r with x in its context, for the hooks of the
// reverse proxy path, which see only requests.
func withExchange(r *http.Request, x *exchange) *http.Request {
	if x == nil || exchangeOf(r.Context()) == x {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
}

// abortOnCancel makes a cancel of the request abort c, the target
// connection it waits on: c's blocked reads and writes return at once.
// stop ends that; it reports false when c was aborted, or is about to be,
// so that c is not used again.
func (x *exchange) abortOnCancel(c net.Conn) (stop func() bool) {
	if x.watch != nil {
		return x.watch(c)
	}
	return context.AfterFunc(x.ctx, func() { c.SetDeadline(aLongTimeAgo) })
}

// bind makes t, already acquired, the request's target.
func (x *exchange) bind(g *targetGroup, t *target) {
	x.group, x.target = g, t
	if cause := t.link(x); cause != nil {
		x.cancel(cause)
	}
	x.metricsDone = x.metrics.Start(x.listener, g.name, t.addr)
}

func (x *exchange) unbind() {
	x.target.unlink(x)
	x.metricsDone()
	x.group.release(x.target)
}

// end finishes the exchange when its handler returns, unless a relay
// took it over.
func (x *exchange) end() {
	if !x.detached {
		x.finish()
	}
}

// finish records the request once it is over, also when the Forwarder
// panicked with http.ErrAbortHandler.
func (x *exchange) finish() {
	x.body.end()
	status := x.status
	if status == 0 {
		status = x.w.status
	}
	if status == 0 && x.upstreamStatus == http.StatusSwitchingProtocols {
		status = http.StatusSwitchingProtocols
	}
	if status == 0 {
		status = statusClientClosed
	}
	x.unbind()
	if x.cancel != nil { // nil once a relay let go of the request's context
		x.cancel(nil)
	}
	x.metrics.Observe(metrics.Observation{
		Listener:    x.listener,
		TargetGroup: x.group.name,
		Target:      x.target.addr,
		Status:      status,
		ProxyError:  x.status != 0 && x.status != statusClientClosed,
		Duration:    time.Since(x.start),
		BytesIn:     x.body.n.Load(),
		BytesOut:    x.w.bytes,
	})
}

// responseRecorder notes the status and size of the response. Unwrap lets
// http.ResponseController reach Flush and Hijack underneath.
type responseRecorder struct {
	http.ResponseWriter
	x      *exchange // the exchange this records
	status int
	bytes  int64
	// draining, for an HTTP/1 client, is the listener's flag: once set,
	// the response closes the connection (see listener.handOver).
	draining *atomic.Bool
	// close makes the response close an HTTP/1 connection: the request
	// had a Transfer-Encoding (see listener.ServeHTTP).
	close bool
	// no1xx drops 1xx responses: the client speaks HTTP/1.0.
	no1xx bool
	// stick, when set, adds the sticky cookie to the final response's
	// header (exchange.setStickyCookie).
	stick func(http.Header)
}

func (w *responseRecorder) WriteHeader(code int) {
	if code < 200 && w.no1xx {
		return
	}
	if w.status == 0 && code >= 200 {
		w.status = code
		w.finalHeader()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.finalHeader()
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// finalHeader adds what the proxy puts on the final response: a
// Connection: close when the request or the listener needs it, and the
// sticky cookie. Headers are cleared after each 1xx, so this waits for
// the final status.
func (w *responseRecorder) finalHeader() {
	if w.close || (w.draining != nil && w.draining.Load()) {
		w.Header().Set("Connection", "close")
	}
	if w.stick != nil {
		w.stick(w.Header())
	}
}

func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read. The transport reads
// the body from its own goroutine, hence the atomic. Close does nothing:
// the transport closes the body when a dial fails, and a retry must still
// be able to read it (ReverseProxy closes the body it owns itself).
//
// With a timeout, each Read must get data within it (the listener's
// BodyTimeout): the client connection's read deadline is moved before
// every read, and left alone once the body has ended, since net/http
// then reads the connection itself.
//
// With a limit (the group's MaxBodySize), a body that grows past it ends
// with errBodyTooLarge instead of its next bytes: a body of unknown
// length (chunked) is cut there, and handleError answers 413.
//
// The transport may go on reading after the response is complete (an
// HTTP/2 target may answer before the request body ended), when the
// handler has returned: the deadline is then no longer moved, since the
// ResponseWriter it is set through is gone (net/http's HTTP/2 server
// panics, in a goroutine that takes the process down; on HTTP/1 it would
// cut the connection's next request).
type countingBody struct {
	rc          io.ReadCloser
	n           atomic.Int64
	limit       int64       // 0: none
	tooLarge    atomic.Bool // the body went past limit
	timeout     time.Duration
	setDeadline func(time.Time) error
	ended       bool         // a Read returned an error; touched by the reader only
	deadline    atomic.Int64 // of the Read in progress, Unix ns; 0 once ended
	timedOut    atomic.Bool  // the client sent nothing for timeout

	mu   sync.Mutex // orders setDeadline before end
	over bool       // the exchange is over: setDeadline may not be called
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.timeout > 0 && !b.ended {
		d := time.Now().Add(b.timeout)
		b.deadline.Store(d.UnixNano())
		b.mu.Lock()
		if !b.over {
			b.setDeadline(d)
		}
		b.mu.Unlock()
	}
	n, err := b.rc.Read(p)
	if total := b.n.Add(int64(n)); b.limit > 0 && total > b.limit {
		b.tooLarge.Store(true)
		n, err = 0, errBodyTooLarge
	}
	if err != nil && !b.ended {
		b.ended = true
		b.deadline.Store(0)
		if b.timeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			b.timedOut.Store(true)
		}
	}
	return n, err
}

// expired reports whether the client stopped sending the body. It looks
// at the clock too: net/http cancels the request's context when the
// deadline passes, and the transport may report that before Read has
// returned.
func (b *countingBody) expired() bool {
	if b.timedOut.Load() {
		return true
	}
	d := b.deadline.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

func (b *countingBody) Close() error { return nil }

// end is called when the exchange is over, before the handler returns:
// from then on Read sets no deadline.
func (b *countingBody) end() {
	b.mu.Lock()
	b.over = true
	b.mu.Unlock()
}

// errBodyTooLarge ends a request body that went past its group's
// MaxBodySize.
var errBodyTooLarge = errors.New("request body too large")
