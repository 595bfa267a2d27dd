package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// DefaultAddr is where the API listens on TCP unless told otherwise.
const DefaultAddr = "127.0.0.1:9190"

// DefaultMaxConns caps the API's TCP connections unless told otherwise.
const DefaultMaxConns = 1024

// TCPOptions say how the API listens on TCP.
type TCPOptions struct {
	Addr string // host:port; "" means DefaultAddr
	// CertFile and KeyFile, both or neither, serve HTTPS.
	CertFile, KeyFile string
	// Insecure allows plain HTTP on an address other machines reach:
	// tokens then cross the network in clear text.
	Insecure bool
	// Inherited is a socket bound to Addr before, kept across an upgrade
	// of cutover; ListenTCP serves it instead of binding anew.
	Inherited net.Listener
	// MaxConns caps the connections open at once (0: DefaultMaxConns).
	// At the cap, new ones wait in the kernel's accept backlog.
	MaxConns int
}

// ErrInsecureBind refuses plain HTTP on a non-loopback address without
// TCPOptions.Insecure.
var ErrInsecureBind = errors.New("refusing to serve the API without TLS on an address other machines can reach: give --api-tls-cert and --api-tls-key, or --api-insecure to accept that tokens cross the network in clear text")

// ListenTCP listens for the API on opts.Addr. A loopback address may
// serve plain HTTP; any other needs TLS or Insecure, which is logged as a
// warning.
func ListenTCP(ctx context.Context, opts TCPOptions, log *slog.Logger) (net.Listener, error) {
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	if (opts.CertFile == "") != (opts.KeyFile == "") {
		return nil, fmt.Errorf("API on %s: give both a TLS certificate and its key", addr)
	}
	useTLS := opts.CertFile != ""
	var cfg *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("API on %s: loading the TLS certificate: %w", addr, err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	loopback, err := isLoopback(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("API on %s: %w", addr, err)
	}
	if !loopback && !useTLS {
		if !opts.Insecure {
			return nil, fmt.Errorf("API on %s: %w", addr, ErrInsecureBind)
		}
		log.Warn("the API serves plain HTTP on an address other machines can reach: tokens cross the network in clear text", "addr", addr)
	}
	ln := opts.Inherited
	if ln == nil {
		var lc net.ListenConfig
		if ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
			return nil, fmt.Errorf("API: listening on %s: %w", addr, err)
		}
	}
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	capped := newLimitListener(ln, maxConns)
	if useTLS {
		return &tlsListener{Listener: tls.NewListener(capped, cfg), raw: ln}, nil
	}
	return capped, nil
}

// tlsListener is a TLS listener that gives its TCP socket (Raw) for an
// upgrade to keep.
type tlsListener struct {
	net.Listener
	raw net.Listener
}

// Raw returns the TCP listener under TLS.
func (l *tlsListener) Raw() net.Listener { return l.raw }

// limitListener accepts at most max connections at once; Accept waits
// for one to close, so new ones wait in the kernel's accept backlog.
type limitListener struct {
	net.Listener
	slots   chan struct{} // one per open connection
	done    chan struct{} // closed by Close
	closing sync.Once
}

func newLimitListener(ln net.Listener, max int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), done: make(chan struct{})}
}

// Raw returns the TCP listener under the limit.
func (l *limitListener) Raw() net.Listener { return l.Listener }

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, free: func() { <-l.slots }}, nil
}

// Close stops accepting, also an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closing.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn frees its slot when closed, once.
type limitedConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}

// isLoopback reports whether every address host:port names is a loopback
// one. An empty host (all interfaces) is not.
func isLoopback(ctx context.Context, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
