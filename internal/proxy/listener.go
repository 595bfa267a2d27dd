package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// Server timeouts. There is no ReadTimeout or WriteTimeout: they would cut
// long uploads, streams and WebSockets. A stalled request body is bounded
// by the listener's BodyTimeout instead (see countingBody).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
)

// listener is one bound socket with its HTTP server. It keeps its socket
// across Apply calls as long as its address stays; only its routes and
// certificate are swapped.
type listener struct {
	addr     string // as configured, e.g. ":8080"
	tls      bool
	ln       net.Listener
	lim      *limitListener // ln with the connection cap; accepted from
	parker   *parker        // parks idle connections; nil off Linux
	relays   *relays        // relays upgraded connections; nil on TLS listeners and off Linux
	srv      *http.Server
	log      *slog.Logger
	metrics  *metrics.Registry
	fwd      Forwarder
	ids      *requestIDs
	routes   atomic.Pointer[routeTable]
	cert     atomic.Pointer[tls.Certificate]
	policy   atomic.Pointer[frontPolicy] // automatic HTTPS, see autotls.go
	acme     *acme.Manager               // nil: no ACME certificates
	inFlight atomic.Int64                // requests and upgraded connections
	conns    atomic.Int64                // open client connections, parked ones too, not counting hijacked ones
	// bodyTimeout is ListenerConfig.BodyTimeout; 0 for none.
	bodyTimeout atomic.Int64
	// maxHeaderSize is ListenerConfig.MaxHeaderSize (see caps.go).
	maxHeaderSize atomic.Int64
	// draining is set once the socket has been handed to a successor:
	// every HTTP/1 response then asks the client to reconnect.
	draining atomic.Bool

	// baseCtx is the parent of every request's context; cancelling it
	// cuts what is left after a graceful shutdown, upgraded connections
	// included (http.Server.Shutdown does not track those).
	baseCtx    context.Context
	cancelBase context.CancelFunc
	served     chan struct{} // closed when Serve has returned
}

// bind opens the socket of lc. Nothing serves on it until serve.
func (p *Proxy) bind(lc ListenerConfig) (*listener, error) {
	ln, err := p.listen(lc.Address)
	if err != nil {
		// "listen tcp :8080: bind: address already in use" says less
		// than the bare system error does in this context.
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return nil, fmt.Errorf("listener %s: listening on %s: %w", lc.Name, lc.Address, err)
	}
	l := &listener{
		addr:    lc.Address,
		tls:     lc.TLS != nil,
		ln:      ln,
		lim:     newLimitListener(ln, lc.MaxConnections),
		log:     p.log,
		metrics: p.metrics,
		fwd:     p.fwd,
		ids:     p.ids,
		acme:    p.acme,
		served:  make(chan struct{}),
	}
	l.policy.Store(&frontPolicy{})
	l.baseCtx, l.cancelBase = context.WithCancel(context.Background())
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	if l.tls {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// The configured cap may change while the server runs; it is
		// checked in ServeHTTP, this is the most it may be.
		MaxHeaderBytes: MaxMaxHeaderSize,
		Protocols:      protocols,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		BaseContext:    func(net.Listener) context.Context { return l.baseCtx },
		ConnState:      l.connState,
	}
	if l.tls {
		l.srv.TLSConfig = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: l.getCertificate,
			NextProtos:     []string{"h2", "http/1.1", acmeChallengeProto},
		}
	}
	return l, nil
}

// configure applies the settings of lc that may change while the
// listener keeps its socket.
func (l *listener) configure(lc ListenerConfig) {
	l.bodyTimeout.Store(int64(max(lc.BodyTimeout, 0)))
	l.maxHeaderSize.Store(int64(lc.MaxHeaderSize))
	l.lim.setMax(lc.MaxConnections)
}

// serve starts accepting connections. A listener parks its idle
// connections (park.go); a TLS one does its handshakes there too
// (parktls_linux.go). Only a plain listener relays upgraded connections
// itself (relay_linux.go): a relay moves bytes between sockets, not
// through crypto/tls.
func (l *listener) serve(name string) {
	var tlsConf *tls.Config
	if l.tls {
		// A copy: Serve adds to the server's config when it starts.
		tlsConf = l.srv.TLSConfig.Clone()
	}
	var err error
	if l.parker, err = newParker(l.lim, &l.conns, l.log, l, context.WithValue(l.baseCtx, http.ServerContextKey, l.srv), tlsConf); err != nil {
		l.log.Debug("idle connections are not parked", "listener", name, "err", err)
	} else if !l.tls {
		if l.relays, err = newRelays(l.log); err != nil {
			l.log.Debug("upgraded connections are relayed by the reverse proxy", "listener", name, "err", err)
		}
	}
	l.log.Info("listener up", "listener", name, "address", l.ln.Addr().String(), "tls", l.tls)
	go func() {
		defer close(l.served)
		var err error
		switch {
		case l.parker != nil:
			err = l.srv.Serve(l.parker)
		case l.tls:
			err = l.srv.ServeTLS(l.lim, "", "")
		default:
			err = l.srv.Serve(l.lim)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			l.log.Error("listener failed", "address", l.addr, "err", err)
		}
	}()
}

// listen returns the socket handed over for address, or binds a new one.
// Called with p.mu held.
func (p *Proxy) listen(address string) (net.Listener, error) {
	if ln := p.inherited[address]; ln != nil {
		delete(p.inherited, address)
		return ln, nil
	}
	return net.Listen("tcp", address)
}

// connState counts the listener's open connections; a parkConn counts
// itself, since net/http sees it open and close once per parking.
func (l *listener) connState(c net.Conn, s http.ConnState) {
	if pc := parkConnOf(c); pc != nil {
		switch s {
		case http.StateIdle:
			pc.idle()
		case http.StateHijacked:
			pc.uncount()
		}
		return
	}
	switch s {
	case http.StateNew:
		if _, ok := c.(*tls.Conn); ok && l.parker != nil {
			return // counted since the parker accepted it (parktls_linux.go)
		}
		l.conns.Add(1)
	case http.StateHijacked, http.StateClosed:
		l.conns.Add(-1)
	}
}

// handOver stops accepting on the socket, which a successor now accepts
// on too, and asks every keep-alive client to reconnect: each HTTP/1
// response from now on carries Connection: close. It waits until the
// connections are gone or settle is over; shutdown does the rest.
func (l *listener) handOver(ctx context.Context, settle time.Duration) {
	l.draining.Store(true)
	l.lim.Close()
	if l.parker != nil {
		// The server goes on serving parked connections that wake.
		<-l.parker.accepting
	} else {
		<-l.served
	}
	ctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	waitIdle(ctx, &l.conns)
}

// shutdown stops accepting, lets requests and upgraded connections finish
// until ctx is done, then cuts what is left.
func (l *listener) shutdown(ctx context.Context) error {
	name := l.routes.Load().listener
	err := l.srv.Shutdown(ctx)
	if err == nil {
		err = waitIdle(ctx, &l.inFlight)
	}
	if err == nil && l.parker != nil {
		err = waitIdle(ctx, &l.parker.busy)
	}
	l.cancelBase()
	l.srv.Close()
	<-l.served
	if l.relays != nil {
		l.relays.close()
	}
	l.log.Info("listener down", "listener", name, "address", l.ln.Addr().String())
	return err
}

// waitIdle waits until n is zero or ctx is done. Upgraded connections are
// rare and long, so polling is fine here.
func waitIdle(ctx context.Context, n *atomic.Int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// ServeHTTP routes one request and forwards it.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	if gw := grpcErrors(w, r); gw != nil {
		defer gw.done()
		w = gw
	}
	mustClose := r.ProtoMajor == 1 && (l.draining.Load() || len(r.TransferEncoding) > 0)
	if mustClose || r.ProtoMajor == 2 && l.draining.Load() {
		// On HTTP/2, net/http answers this with GOAWAY: the client opens
		// its next stream on a new connection, to the successor.
		w.Header().Set("Connection", "close")
	}
	rt := l.routes.Load()
	if l.refuseHeader(w, r, rt.listener, start) || l.front(w, r) {
		return
	}
	act := rt.match(r)
	if act != nil && act.fixed != nil {
		n := act.fixed.serve(w)
		l.metrics.Observe(metrics.Observation{
			Listener: rt.listener, Status: act.fixed.status,
			Fixed: true, Duration: time.Since(start), BytesOut: n,
		})
		return
	}
	g, t := act.pickSticky(r)
	if t == nil {
		g, t = act.pick(nil)
	}
	if t == nil {
		l.noTarget(w, act, rt.listener, start)
		return
	}
	if l.refuseBody(w, r, rt.listener, g, t, start) {
		return
	}

	x := l.newExchange(w, r, rt.listener, act, start)
	x.w.close = mustClose
	x.bind(g, t)
	x.body.limit = g.settings.Load().maxBodySize
	defer x.end()
	if r.Context() != x.ctx {
		r = r.WithContext(x.ctx)
	}
	l.fwd.Forward(&x.w, r)
}

// noTarget answers 503 when the action found no target for a request.
func (l *listener) noTarget(w http.ResponseWriter, act *action, name string, start time.Time) {
	msg := "503 Service Unavailable: no healthy target\n"
	switch {
	case act == nil:
		msg = "503 Service Unavailable: no route for this request\n"
	case act.full():
		msg = "503 Service Unavailable: every target is at its connection limit\n"
		l.metrics.Refused(name, metrics.LimitTargetConnections)
	}
	writeError(w, http.StatusServiceUnavailable, msg)
	l.metrics.Observe(metrics.Observation{
		Listener: name, Status: http.StatusServiceUnavailable,
		ProxyError: true, Duration: time.Since(start),
	})
}

// newExchange starts the record of one routed request. An HTTP/1.0
// request's Expect is dropped: RFC 9110 says to ignore 100-continue from
// HTTP/1.0 clients, which must not get a 1xx response.
func (l *listener) newExchange(w http.ResponseWriter, r *http.Request, name string, act *action, start time.Time) *exchange {
	x := &exchange{listener: name, metrics: l.metrics, act: act, start: start,
		relays: l.relays, base: l.baseCtx, inFlight: &l.inFlight}
	if own, ok := w.(*h1response); ok {
		// The own server made the request's context for the exchange:
		// nothing else uses it, and one context less per request counts.
		x.ctx, x.cancel, x.watch = r.Context(), own.cancelFunc(), own.watch
	} else {
		x.ctx, x.cancel = context.WithCancelCause(r.Context())
	}
	x.w.ResponseWriter, x.w.x = w, x
	if r.ProtoMajor == 1 {
		x.w.draining = &l.draining
		if r.ProtoMinor == 0 {
			x.w.no1xx = true
			r.Header.Del("Expect")
		}
	}
	x.tls = r.TLS != nil
	if act.sticky {
		x.w.stick = x.setStickyCookie
	}
	x.requestID = r.Header.Get("X-Request-Id")
	if !saneRequestID(x.requestID) {
		x.requestID = l.ids.next()
	}
	if d := time.Duration(l.bodyTimeout.Load()); d > 0 && r.Body != nil && r.Body != http.NoBody {
		x.body.timeout = d
		x.body.setDeadline = http.NewResponseController(w).SetReadDeadline
	}
	return x
}
