package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// Forwarder sends a routed request to its target and copies the answer to
// w. The routing decision travels in w, the exchange's recorder (see
// exchangeFor); ReverseProxy is the standard Forwarder, and the fast
// HTTP/1.1 path in front of it (fastforward.go) leaves routing, health and
// weights alone.
type Forwarder interface {
	Forward(w http.ResponseWriter, r *http.Request)
}

// Transport tuning, after measuring on a 2-core machine: the default
// MaxIdleConnsPerHost of 2 costs more than half the throughput.
const (
	dialTimeout         = 10 * time.Second
	maxIdleConns        = 4096
	maxIdleConnsPerHost = 256
	idleConnTimeout     = 90 * time.Second
	copyBufferSize      = 32 << 10
)

// reverseProxyForwarder forwards with httputil.ReverseProxy over a tuned
// HTTP/1.1 transport, with retries and response timeouts in between.
type reverseProxyForwarder struct {
	transport *http.Transport
	rp        *httputil.ReverseProxy
}

func newReverseProxyForwarder(log *slog.Logger) *reverseProxyForwarder {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		Protocols:             protocols,
	}
	f := &reverseProxyForwarder{transport: transport}
	f.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      &retryTransport{base: newProtocolTransport(transport)},
		FlushInterval:  -1, // stream: server-sent events must not wait in a buffer
		BufferPool:     newBufferPool(copyBufferSize),
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ErrorHandler:   handleError,
		ModifyResponse: modifyResponse,
	}
	return f
}

func (f *reverseProxyForwarder) Forward(w http.ResponseWriter, r *http.Request) {
	x := exchangeFor(w)
	if rec, ok := w.(*responseRecorder); ok && r.Header["Upgrade"] != nil {
		w = earlyBytesKeeper{rec}
	}
	f.rp.ServeHTTP(w, withExchange(r, x))
}

// earlyBytesKeeper is the recorder of an upgrade request on the reverse
// proxy path. ReverseProxy relays an upgraded connection from the
// connection Hijack returns and ignores the reader beside it, which holds
// what net/http read past the request: the first bytes a client sent
// along with its upgrade request would be lost. Its Hijack puts them in
// front of the connection.
type earlyBytesKeeper struct{ *responseRecorder }

func (w earlyBytesKeeper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.responseRecorder).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		brw.Reader.Discard(n)
		c = &prefixedConn{Conn: c, r: io.MultiReader(bytes.NewReader(bytes.Clone(early)), c)}
	}
	return c, brw, nil
}

// prefixedConn reads r, bytes read already and then the connection.
type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// rewrite points the outbound request at the chosen target. The Host
// header stays the client's, as on ALB.
func rewrite(pr *httputil.ProxyRequest) {
	x := exchangeOf(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = x.target.addr
	pr.Out.Host = pr.In.Host
	if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
	pr.Out.Header.Set("X-Request-Id", x.requestID)
}

func modifyResponse(res *http.Response) error {
	if x := exchangeOf(res.Request.Context()); x != nil {
		x.upstreamStatus = res.StatusCode
	}
	return nil
}

// retryTransport adds what the proxy needs around one round trip: the
// group's response timeout, outlier accounting, and one retry on another
// target when the request cannot have reached the first one.
type retryTransport struct {
	base http.RoundTripper
}

// errResponseTimeout is the cause of cancelling a request whose target did
// not send response headers in time.
var errResponseTimeout = errors.New("response timeout")

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeOf(req.Context())
	if x == nil {
		return rt.base.RoundTrip(req)
	}
	if req.Body != nil {
		x.body.rc = req.Body
		r2 := *req
		r2.Body = &x.body
		req = &r2
	}
	resp, err := rt.try(x, req)
	if err == nil || x.ctx.Err() != nil {
		return resp, err
	}
	if !canRetry(req, err, x.body.n.Load()) {
		return nil, err
	}
	g, t := x.act.pick(x.target)
	if t == nil {
		return nil, err
	}
	x.unbind()
	x.bind(g, t)
	x.retried = true
	u := *req.URL
	u.Host = t.addr
	r3 := *req
	r3.URL = &u
	return rt.try(x, &r3)
}

// try is one attempt on x.target.
func (rt *retryTransport) try(x *exchange, req *http.Request) (*http.Response, error) {
	var timer *time.Timer
	if d := x.group.settings.Load().responseTimeout; d > 0 {
		timer = time.AfterFunc(d, func() { x.cancel(errResponseTimeout) })
	}
	resp, err := rt.base.RoundTrip(req)
	if timer != nil && !timer.Stop() && err == nil {
		// The timer fired just as the headers arrived; the context is
		// cancelled, so the body could not be read.
		resp.Body.Close()
		resp, err = nil, errResponseTimeout
	}
	switch {
	case err == nil:
		x.group.observe(x.target, resp.StatusCode >= 500)
	case x.body.expired(), x.body.tooLarge.Load():
		// The client's fault, not the target's.
	case x.ctx.Err() == nil || errors.Is(context.Cause(x.ctx), errResponseTimeout):
		x.group.observe(x.target, true)
	}
	return resp, err
}

// canRetry reports whether a failed request may be sent to another
// target: when it never reached the first one (a dial error, no body byte
// read), or when it is idempotent and has no body.
func canRetry(req *http.Request, err error, bodyRead int64) bool {
	if isDialError(err) && bodyRead == 0 {
		return true
	}
	if req.Body != nil {
		return false
	}
	return retryableMethod(req.Method) && !isUpgrade(req)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryableMethod reports whether a bodiless request with this method may
// be sent twice.
func retryableMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

func isUpgrade(req *http.Request) bool {
	return req.Header.Get("Upgrade") != ""
}

// bufferPool recycles byte buffers of one size: ReverseProxy's copy
// buffers (Get and Put, its BufferPool), and the proxy's own, which keep
// the pointer get returns so that put allocates nothing.
type bufferPool struct{ pool sync.Pool }

func newBufferPool(size int) *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

func (p *bufferPool) get() *[]byte  { return p.pool.Get().(*[]byte) }
func (p *bufferPool) put(b *[]byte) { p.pool.Put(b) }
func (p *bufferPool) Get() []byte   { return *p.get() }
func (p *bufferPool) Put(b []byte)  { p.put(&b) }
