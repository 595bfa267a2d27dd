package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/cutover/cutover/internal/health"
)

// Protocols a target group speaks to its targets, as ALB's protocol
// versions. Clients may use HTTP/1.1 or HTTP/2 with any of them.
const (
	ProtocolHTTP1 = health.ProtocolHTTP1 // HTTP/1.1 in cleartext (the default)
	ProtocolHTTP2 = health.ProtocolHTTP2 // HTTP/2 over TLS; target certificates are not verified, as on ALB
	ProtocolH2C   = health.ProtocolH2C   // HTTP/2 in cleartext, with prior knowledge
	ProtocolGRPC  = health.ProtocolGRPC  // gRPC: h2c, plus gRPC health checks and errors
	ProtocolGRPCS = health.ProtocolGRPCS // gRPC over TLS (HTTP/2 over TLS), certificates not verified
)

// Protocols lists the valid TargetGroupConfig.Protocol values.
var Protocols = []string{ProtocolHTTP1, ProtocolHTTP2, ProtocolH2C, ProtocolGRPC, ProtocolGRPCS}

// speaksHTTP2 reports whether requests of a group with protocol p go over
// HTTP/2 connections.
func speaksHTTP2(p string) bool {
	return p == ProtocolHTTP2 || p == ProtocolH2C || health.SpeaksGRPC(p)
}

// speaksTLS reports whether a group with protocol p speaks TLS to its
// targets.
func speaksTLS(p string) bool {
	return p == ProtocolHTTP2 || p == ProtocolGRPCS
}

// HTTP/2 connection tuning: a connection that sends nothing for
// h2ReadIdleTimeout is pinged, and closed when the ping is not answered
// within h2PingTimeout, so a dead target is noticed without a request
// hanging on it.
const (
	h2ReadIdleTimeout = 30 * time.Second
	h2PingTimeout     = 15 * time.Second
)

// h2EncoderTableSize caps the HPACK table of the header fields sent to a
// target at one byte, so no field enters it. A request's X-Request-Id is
// new unless the client sent one; with x/net's default table of 4096
// bytes it is added on every request and evicts an older field, and that
// work grew the stack of x/net's per-request goroutine on most gRPC
// calls. The cost: fields that repeat on every request (:authority,
// content-type, user-agent, X-Forwarded-*) go out as literals each time,
// Huffman-coded where that is shorter, so a HEADERS frame is about as
// large as the HTTP/1.1 head would be, and the target decodes them each
// time. Measured (bench/RESULTS.md, 2026-12-05): cutover's CPU per unary
// gRPC call fell by about 6% (lower in 22 of 33 alternated runs), the
// target's rose by about 1 µs.
const h2EncoderTableSize = 1

var errUpgradeOverHTTP2 = errors.New("the target group speaks HTTP/2, which has no Upgrade")

// protocolTransport sends each attempt over the protocol of the group it
// is bound to: HTTP/1.1 through h1, HTTP/2 over the target's own
// connections (target.h2). A retry may move a request to a group with
// another protocol, so the choice is made per attempt.
//
// HTTP/2 connections are x/net/http2 ClientConns, not net/http's: only
// those can be shut down gracefully (GOAWAY, then wait for open streams),
// which is how a draining target's connections end.
type protocolTransport struct {
	h1 http.RoundTripper
	h2 *http2.Transport
}

func newProtocolTransport(h1 http.RoundTripper) *protocolTransport {
	pool := &targetConnPool{dialer: &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
	pool.tr = &http2.Transport{
		AllowHTTP:          true,
		DisableCompression: true,
		ReadIdleTimeout:    h2ReadIdleTimeout,
		PingTimeout:        h2PingTimeout,
		ConnPool:           pool,

		MaxEncoderHeaderTableSize: h2EncoderTableSize,
	}
	return &protocolTransport{h1: h1, h2: pool.tr}
}

func (pt *protocolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeOf(req.Context())
	if x == nil || !speaksHTTP2(x.group.settings.Load().protocol) {
		return pt.h1.RoundTrip(req)
	}
	if isUpgrade(req) {
		return nil, errUpgradeOverHTTP2
	}
	if speaksTLS(x.group.settings.Load().protocol) {
		u := *req.URL
		u.Scheme = "https"
		r2 := *req
		r2.URL = &u
		req = &r2
	}
	res, err := pt.h2.RoundTrip(req)
	if err == nil && len(res.Trailer) > 0 {
		// HTTP/2 allows a Content-Length with trailers; HTTP/1.1 sends
		// trailers only in a chunked body, so an HTTP/1.1 client would
		// lose them.
		res.Header.Del("Content-Length")
		res.ContentLength = -1
	}
	return res, err
}

// targetConnPool is the http2.ClientConnPool of the proxy: it hands out
// the connections of the target the request is bound to.
type targetConnPool struct {
	dialer *net.Dialer
	tr     *http2.Transport // the transport this pool belongs to
}

func (p *targetConnPool) GetClientConn(req *http.Request, _ string) (*http2.ClientConn, error) {
	x := exchangeOf(req.Context())
	if x == nil {
		return nil, errors.New("HTTP/2 request without a target")
	}
	useTLS := speaksTLS(x.group.settings.Load().protocol)
	return x.target.h2.get(req.Context(), func(ctx context.Context) (*http2.ClientConn, error) {
		return p.dial(ctx, x.target.addr, useTLS)
	})
}

// MarkDead is called by the transport for a connection that closed or got
// GOAWAY, whose open streams may still run: h2Conns.get drops it once it
// is done.
func (p *targetConnPool) MarkDead(*http2.ClientConn) {}

// dial opens an HTTP/2 connection to addr. Errors before the connection
// is up are dial errors, so the request may go to another target.
func (p *targetConnPool) dial(ctx context.Context, addr string, useTLS bool) (*http2.ClientConn, error) {
	raw, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	var conn net.Conn = newBatchConn(raw, targetMaxBatch, targetSpare)
	if useTLS {
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(conn, &tls.Config{
			ServerName:         host,
			NextProtos:         []string{http2.NextProtoTLS},
			InsecureSkipVerify: true, // as ALB: targets often have self-signed certificates
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: conn.RemoteAddr(), Err: fmt.Errorf("TLS handshake: %w", err)}
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: conn.RemoteAddr(), Err: fmt.Errorf("target does not offer HTTP/2 in TLS ALPN (got %q)", p)}
		}
		conn = tc
	}
	cc, err := p.tr.NewClientConn(conn)
	if err != nil {
		conn.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: conn.RemoteAddr(), Err: err}
	}
	return cc, nil
}

// h2Conns are one target's HTTP/2 connections. Most of the time there is
// one; another is opened when all are at the target's stream limit or
// shutting down. A draining target sends GOAWAY on each, so open streams
// finish and the connection closes after the last one.
type h2Conns struct {
	mu      sync.Mutex
	conns   []*http2.ClientConn
	dialing chan struct{} // closed when the dial in progress ends; nil if none
	closed  bool          // the target is gone: no new connections
}

// get reserves a stream on a connection that can take one, dialing a new
// connection when none can. Concurrent callers wait for one dial instead
// of each opening a connection.
func (h *h2Conns) get(ctx context.Context, dial func(context.Context) (*http2.ClientConn, error)) (*http2.ClientConn, error) {
	for {
		cc, wait, spent := h.reserve()
		closeAll(spent)
		if cc != nil {
			return cc, nil
		}
		if wait != nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		cc, err := h.dialNew(ctx, dial)
		if err != nil || cc != nil {
			return cc, err
		}
	}
}

// reserve reserves a stream on an open connection. If there is none, it
// returns the channel of the dial in progress to wait for, or nil for
// both when the caller is to dial (with dialNew).
func (h *h2Conns) reserve() (cc *http2.ClientConn, wait <-chan struct{}, spent []*http2.ClientConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	spent = h.dropSpent()
	for _, cc := range h.conns {
		if cc.ReserveNewRequest() {
			return cc, nil, spent
		}
	}
	if h.dialing != nil {
		return nil, h.dialing, spent
	}
	h.dialing = make(chan struct{})
	return nil, nil, spent
}

// dialNew dials the connection reserve asked for and reserves a stream on
// it; nil without an error if the new connection is full already.
func (h *h2Conns) dialNew(ctx context.Context, dial func(context.Context) (*http2.ClientConn, error)) (*http2.ClientConn, error) {
	cc, err := dial(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.dialing)
	h.dialing = nil
	if err != nil {
		return nil, err
	}
	if h.closed {
		cc.Close() // the target finished draining while this dial ran
		return nil, errDeregistrationDelayOver
	}
	h.conns = append(h.conns, cc)
	if cc.ReserveNewRequest() {
		return cc, nil
	}
	return nil, nil
}

// dropSpent removes the connections that are closed, or take no new
// streams (GOAWAY) and have none left, and returns the latter for the
// caller to close once it no longer holds mu.
func (h *h2Conns) dropSpent() (spent []*http2.ClientConn) {
	h.conns = slices.DeleteFunc(h.conns, func(cc *http2.ClientConn) bool {
		st := cc.State()
		if !st.Closed && st.Closing && st.StreamsActive == 0 && st.StreamsReserved == 0 && st.StreamsPending == 0 {
			spent = append(spent, cc)
			return true
		}
		return st.Closed
	})
	return spent
}

func closeAll(conns []*http2.ClientConn) {
	for _, cc := range conns {
		cc.Close()
	}
}

// shutdown sends GOAWAY on every connection: no new streams, the open
// ones run to their end (or until cut is done), then the connection
// closes. Connections opened later, by requests that picked the target
// before it started draining, are closed by close.
func (h *h2Conns) shutdown(cut context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cc := range h.conns {
		go func() {
			if cc.Shutdown(cut) != nil {
				cc.Close()
			}
		}()
	}
}

// close closes every connection at once: the target is drained or cut.
func (h *h2Conns) close() {
	h.mu.Lock()
	conns := h.conns
	h.conns, h.closed = nil, true
	h.mu.Unlock()
	closeAll(conns)
}
