package proxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitListener caps the client connections open at once. At the cap,
// Accept waits until one closes: new connections stay in the kernel's
// accept backlog (they are neither accepted nor refused), as with
// HAProxy's maxconn. Connections handed to a WebSocket or other upgrade
// count until they close.
type limitListener struct {
	net.Listener
	max     atomic.Int64 // changed by Apply; takes effect at the next Accept
	open    atomic.Int64
	waits   atomic.Int64  // Accept calls that found the listener full
	freed   chan struct{} // a connection closed or max changed; buffered 1
	done    chan struct{} // closed by Close
	closing sync.Once
}

func newLimitListener(ln net.Listener, max int) *limitListener {
	l := &limitListener{Listener: ln, freed: make(chan struct{}, 1), done: make(chan struct{})}
	l.max.Store(int64(max))
	return l
}

// Accept waits for a free slot, then accepts a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	if !l.acquire() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitedConn{Conn: c, l: l}, nil
}

// acquire takes a slot, waiting while all are taken; false when the
// listener was closed first.
func (l *limitListener) acquire() bool {
	counted := false
	for {
		n := l.open.Load()
		if n < l.max.Load() {
			if l.open.CompareAndSwap(n, n+1) {
				return true
			}
			continue
		}
		if !counted {
			l.waits.Add(1)
			counted = true
		}
		select {
		case <-l.freed:
		case <-l.done:
			return false
		}
	}
}

func (l *limitListener) release() {
	l.open.Add(-1)
	l.wake()
}

func (l *limitListener) wake() {
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

func (l *limitListener) setMax(n int) {
	l.max.Store(int64(n))
	l.wake()
}

// Close stops accepting, also an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closing.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	l      *limitListener
	closed atomic.Bool
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release()
	}
	return err
}
