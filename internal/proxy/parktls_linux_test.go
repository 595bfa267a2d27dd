package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testcert"
)

// tlsParkingProxy is a proxy with one TLS listener in front of a backend
// that answers /proto with the X-Forwarded-Proto it got, and echoes
// bodies at /echo; it returns the pool that trusts the listener.
func tlsParkingProxy(t *testing.T, target string) (*Proxy, *listener, *x509.CertPool) {
	t.Helper()
	if target == "" {
		be := newBackend(t, "blue", func(mux *http.ServeMux) {
			mux.HandleFunc("/proto", func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, r.Header.Get("X-Forwarded-Proto"))
			})
			mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
				io.Copy(w, r.Body)
			})
		})
		target = be.addr
	}
	certFile, keyFile, pool := testcert.Files(t)
	cfg := oneListener(forward("blue", 1), group("blue", target))
	cfg.Listeners[0].TLS = &TLSConfig{CertFile: certFile, KeyFile: keyFile}
	p := startProxy(t, cfg)
	l := p.listeners["web"]
	if l.parker == nil {
		t.Fatal("the TLS listener does not park its idle connections")
	}
	return p, l, pool
}

// dialTLS is a client connection over TLS that offers the protocols
// given by ALPN, written to by hand.
func dialTLS(t *testing.T, p *Proxy, pool *x509.CertPool, protos ...string) *rawClient {
	t.Helper()
	c, err := tls.Dial("tcp", p.Addr("web").String(), &tls.Config{RootCAs: pool, NextProtos: protos})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return newRawClient(t, c)
}

// An idle HTTPS connection is parked like a plain one, and serves again:
// plain requests (which the own server answers, telling the target the
// client came over HTTPS), a request with a body (net/http's), and
// pipelined requests in one TLS record.
func TestTLSIdleConnectionIsParkedAndServedAgain(t *testing.T) {
	for _, protos := range [][]string{{"http/1.1"}, nil} {
		t.Run(strings.Join(append([]string{"alpn"}, protos...), "-"), func(t *testing.T) {
			p, l, pool := tlsParkingProxy(t, "")
			rc := dialTLS(t, p, pool, protos...)
			for range 3 {
				rc.send("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n")
				rc.expect("GET", "https")
				waitParked(t, l, 1)
				if n := l.conns.Load(); n != 1 {
					t.Fatalf("open connections = %d while one is parked, want 1", n)
				}
			}
			rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
			rc.expect("POST", "hello")
			// net/http serves a request with a body, over TLS too.
			rc.send("POST /proto HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
			rc.expect("POST", "https")
			rc.send(strings.Repeat("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n", 3))
			for range 3 {
				rc.expect("GET", "https")
			}
			rc.send("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n")
			rc.expect("GET", "https")
		})
	}
}

// heldConn holds what is written to it until flush, so that several TLS
// records reach the proxy in one segment.
type heldConn struct {
	net.Conn
	mu   sync.Mutex
	held bytes.Buffer
}

func (c *heldConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held.Write(b)
}

func (c *heldConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.Conn.Write(c.held.Bytes())
	c.held.Reset()
	return err
}

// Two requests in two TLS records that arrive together: crypto/tls reads
// both from the socket and decrypts the first; the second, which the
// socket will not announce again, must be served all the same, not left
// waiting in a parked connection.
func TestTLSRecordsArrivingTogetherAreAllServed(t *testing.T) {
	p, l, pool := tlsParkingProxy(t, "")
	raw := dialTCP(t, p)
	bc := &heldConn{Conn: raw}
	c := tls.Client(bc, &tls.Config{ServerName: "127.0.0.1", RootCAs: pool, NextProtos: []string{"http/1.1"}})
	// The handshake's flights go out as they are written.
	hs := make(chan error, 1)
	go func() { hs <- c.Handshake() }()
	for done := false; !done; {
		select {
		case err := <-hs:
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			done = true
		case <-time.After(10 * time.Millisecond):
		}
		if err := bc.flush(); err != nil {
			t.Fatal(err)
		}
	}
	rc := newRawClient(t, c)
	rc.send("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.send("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n")
	if err := bc.flush(); err != nil {
		t.Fatal(err)
	}
	rc.expect("GET", "https")
	rc.expect("GET", "https")
	waitParked(t, l, 1)
}

// HTTP/2 clients are served by net/http, as before, and not parked.
func TestTLSHTTP2ClientIsNotParked(t *testing.T) {
	p, l, pool := tlsParkingProxy(t, "")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	for range 2 {
		resp, err := c.Get("https://" + p.Addr("web").String() + "/proto")
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.ProtoMajor != 2 || body != "https" {
			t.Fatalf("got %s %q, want HTTP/2.0 \"https\"", resp.Proto, body)
		}
		time.Sleep(3 * parkAfter)
	}
	if n := l.parker.parkedCount(); n != 0 {
		t.Errorf("parked connections = %d with one HTTP/2 client, want 0", n)
	}
	if n := l.conns.Load(); n != 1 {
		t.Errorf("open connections = %d, want 1", n)
	}
}

// A client that speaks plain HTTP to an HTTPS listener is told so, as
// net/http tells it, and nothing stays open.
func TestPlainHTTPToATLSListener(t *testing.T) {
	p, l, _ := tlsParkingProxy(t, "")
	rc := dialRaw(t, p)
	rc.send(getRoot)
	b, err := io.ReadAll(rc.br)
	if err != nil {
		t.Fatal(err)
	}
	if want := "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	eventually(t, "no open connection", func() bool { return l.conns.Load() == 0 })
}

// A connection upgraded over TLS is relayed by the reverse proxy (not by
// the socket relays, which would bypass crypto/tls), with the bytes the
// client sent along with its request.
func TestTLSUpgradeCarriesEarlyBytes(t *testing.T) {
	target := upgradeTarget(t, "echo", "hello;")
	p, _, pool := tlsParkingProxy(t, target)
	upgradeToEcho(dialTLS(t, p, pool, "http/1.1"), "hello;")
}

// A parked HTTPS connection is closed at its deadline, with TLS's
// close_notify.
func TestTLSParkedConnectionsExpire(t *testing.T) {
	p, l, pool := tlsParkingProxy(t, "")
	rc := dialTLS(t, p, pool, "http/1.1")
	rc.send("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.expect("GET", "https")
	waitParked(t, l, 1)
	l.parker.sweep(time.Now().Add(idleTimeout + time.Second))
	if _, err := rc.br.ReadByte(); err != io.EOF {
		t.Fatalf("read from an expired connection: %v, want io.EOF (close_notify)", err)
	}
	eventually(t, "no open connection", func() bool { return l.conns.Load() == 0 })
}

// Part of a TLS record wakes a parked connection without a byte of a
// request; it must not keep the connection beyond its idle timeout, or a
// client could hold one forever with a byte every two minutes.
func TestTLSPartialRecordDoesNotExtendTheIdleTimeout(t *testing.T) {
	p, l, pool := tlsParkingProxy(t, "")
	raw := dialTCP(t, p)
	c := tls.Client(raw, &tls.Config{ServerName: "127.0.0.1", RootCAs: pool, NextProtos: []string{"http/1.1"}})
	rc := newRawClient(t, c)
	rc.send("GET /proto HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.expect("GET", "https")
	idleFrom := time.Now() // the proxy's idle timeout runs from before this
	waitParked(t, l, 1)

	time.Sleep(300 * time.Millisecond)
	if _, err := raw.Write([]byte{23, 3, 3}); err != nil { // an application data record begins
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // woken, nothing to read, parked again
	waitParked(t, l, 1)
	l.parker.sweep(idleFrom.Add(idleTimeout + 100*time.Millisecond))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.br.ReadByte(); err != io.EOF {
		t.Fatalf("read after the idle timeout: %v, want io.EOF: the partial record moved the connection's deadline", err)
	}
}
