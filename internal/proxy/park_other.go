//go:build !linux

package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
)

// parker parks idle connections on Linux only (park_linux.go); elsewhere
// a listener's connections stay with net/http between requests.
type parker struct {
	net.Listener
	accepting chan struct{}
	busy      atomic.Int64
}

func newParker(net.Listener, *atomic.Int64, *slog.Logger, http.Handler, context.Context, *tls.Config) (*parker, error) {
	return nil, errors.ErrUnsupported
}

func (p *parker) parkedCount() int { return 0 }

// relays relay upgraded connections without goroutines on Linux only
// (relay_linux.go); elsewhere upgrades go through httputil.ReverseProxy.
type relays struct{}

func newRelays(*slog.Logger) (*relays, error) { return nil, errors.ErrUnsupported }

func (*relays) start(_ *exchange, client, target net.Conn) {
	client.Close()
	target.Close()
}

func (*relays) close() {}

// readAheadInto is readThrough's plain read: connections are never h2c
// parkConns here.
func (c *parkConn) readAheadInto(p []byte) (int, error) {
	c.readAhead = false
	return c.Conn.Read(p)
}
