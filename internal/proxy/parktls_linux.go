package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// TLS listeners park their idle connections too. The parker runs each
// handshake itself. A connection that agreed on HTTP/1.1, or on no
// protocol, becomes a parkConn over its *tls.Conn and is served and
// parked as on a plain listener; one that agreed on anything else
// (HTTP/2, an ACME challenge) goes to net/http as the *tls.Conn, which
// serves it as before and never parks it. An HTTP/2 connection's TLS
// records are batched beneath the *tls.Conn (batchSwitch, h2batch.go).
//
// A parked connection is watched at its socket, under TLS. That is right
// only while crypto/tls holds nothing the socket will not announce
// again: no decrypted byte unread, no whole record undecrypted. A
// connection is parked only after a read through its *tls.Conn timed
// out, and crypto/tls returns what it holds before it reads the socket,
// so then it holds at most part of a record, whose rest is still to come
// through the socket. Such a timeout leaves the *tls.Conn usable:
// crypto/tls keeps only errors that are not temporary.

// acceptTLS starts serving raw, just accepted on a TLS listener; fd is
// its socket. It is open from now on, as net/http counts a connection
// from its accept: a hand-over waits for it from here.
func (p *parker) acceptTLS(raw net.Conn, fd int) {
	if fd < 0 {
		// Unreachable for TCP; never serve it in the clear.
		p.log.Error("closing a connection whose socket cannot be watched", "remote", raw.RemoteAddr().String())
		raw.Close()
		return
	}
	p.open.Add(1)
	go p.serveTLS(raw, fd)
}

// serveTLS does the handshake of raw and serves it; it takes over the
// count acceptTLS made.
func (p *parker) serveTLS(raw net.Conn, fd int) {
	under := &underTLS{Conn: raw}
	tc := tls.Server(under, p.tls)
	if err := p.handshake(tc); err != nil {
		p.open.Add(-1)
		p.log.Debug("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	state := tc.ConnectionState()
	switch state.NegotiatedProtocol {
	case "", "http/1.1":
		c := newParkConn(tc, p, fd, p.open) // counts it again
		p.open.Add(-1)
		c.tlsState = &state
		p.serveOwn(c, true)
	default:
		if state.NegotiatedProtocol == http2.NextProtoTLS {
			under.start(raw, p.open)
		}
		// Still counted: the listener's connState does not count a
		// *tls.Conn net/http gets from here again, and uncounts it when
		// net/http is done with it.
		if !p.toHTTPConn(tc) {
			p.open.Add(-1)
		}
	}
}

// handshake runs tc's handshake within net/http's time for it (the
// header timeout), and closes tc when it fails. A client that spoke plain
// HTTP gets net/http's answer to that.
func (p *parker) handshake(tc *tls.Conn) error {
	tc.SetDeadline(time.Now().Add(readHeaderTimeout))
	ctx := context.WithValue(p.base, http.LocalAddrContextKey, tc.LocalAddr())
	if err := tc.HandshakeContext(ctx); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			err = errors.New("client sent an HTTP request to an HTTPS server")
		}
		tc.Close()
		return err
	}
	tc.SetDeadline(time.Time{})
	return nil
}

// looksLikeHTTP reports whether the first five bytes of what was taken
// for a TLS record are those of an HTTP request (net/http's test).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}
