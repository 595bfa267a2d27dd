package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// parker is a listener's parking lot for idle connections (see
// park.go), its own server of plain requests (h1server_linux.go), and
// the net.Listener its http.Server serves: Accept returns the
// connections the own server hands over. New connections, and parked
// ones whose next request has come, go to the own server first. Parked
// connections wait in a poller of their own.
type parker struct {
	ln      net.Listener // the limited listener accepted from
	open    *atomic.Int64
	log     *slog.Logger
	handler http.Handler    // the listener's, for the own server
	base    context.Context // the parent of the own server's request contexts
	tls     *tls.Config     // nil on a plain listener (parktls_linux.go)
	poll    *poller
	ready   chan net.Conn // to Accept
	done    chan struct{} // closed by Close
	bufs    *bufferPool   // of parkBufferSize
	writers sync.Pool     // *bufio.Writer for the own server's responses
	date    dateCache
	// busy counts the requests the own server is serving; a shutdown
	// waits for them as http.Server.Shutdown does for its own.
	busy atomic.Int64

	// accepting is closed when the accept loop has stopped.
	accepting chan struct{}
	closing   sync.Once
}

// newParker starts accepting on ln and a poller for the parked; plain
// requests are served by handler with contexts from base. With a TLS
// config, connections are TLS: the parker does their handshakes.
func newParker(ln net.Listener, open *atomic.Int64, log *slog.Logger, handler http.Handler, base context.Context, tlsConf *tls.Config) (*parker, error) {
	poll, err := newPoller(log)
	if err != nil {
		return nil, err
	}
	p := &parker{
		ln: ln, open: open, log: log, handler: handler, base: base, poll: poll, tls: tlsConf,
		bufs:      newBufferPool(parkBufferSize),
		writers:   sync.Pool{New: func() any { return bufio.NewWriterSize(nil, parkBufferSize) }},
		ready:     make(chan net.Conn),
		done:      make(chan struct{}),
		accepting: make(chan struct{}),
	}
	go p.accept()
	return p, nil
}

// Accept returns the next connection to serve.
func (p *parker) Accept() (net.Conn, error) {
	select {
	case c := <-p.ready:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

// Close stops serving: it closes ln, parked connections are closed and
// woken ones are no longer handed over.
func (p *parker) Close() error {
	p.closing.Do(func() {
		p.ln.Close() // a listener handed over is closed already
		close(p.done)
		p.poll.close()
	})
	return nil
}

func (p *parker) Addr() net.Addr { return p.ln.Addr() }

// accept takes new connections from ln until it is closed.
func (p *parker) accept() {
	defer close(p.accepting)
	var delay time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Debug("accept failed", "address", p.ln.Addr().String(), "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		fd := socketOf(c)
		if p.tls != nil {
			p.acceptTLS(c, fd)
			continue
		}
		if fd < 0 {
			p.toHTTP(newParkConn(c, nil, fd, p.open))
			continue
		}
		go p.serveOwn(newParkConn(c, p, fd, p.open), true)
	}
}

// hand gives c, woken, to the own server.
func (p *parker) hand(c *parkConn) {
	if p.closed() {
		c.expired() // closes it without holding up the poller
		return
	}
	go p.serveOwn(c, false)
}

// toHTTP gives c to the listener's http.Server, or closes it once the
// server has stopped.
func (p *parker) toHTTP(c *parkConn) {
	c.fresh = true
	p.toHTTPConn(c.forHTTP())
}

// toHTTPConn gives c to the listener's http.Server as it is, or closes
// it once the server has stopped (false).
func (p *parker) toHTTPConn(c net.Conn) bool {
	select {
	case p.ready <- c:
		return true
	case <-p.done:
		c.Close()
		return false
	}
}

// closed reports whether Close was called: the listener shuts down.
func (p *parker) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *parker) park(c *parkConn) error { return p.poll.watch(c.fd, c, c.expiry()) }

func (p *parker) forget(c *parkConn) { p.poll.forget(c.fd, c) }

// parkedCount is the number of connections parked now; 0 for nil.
func (p *parker) parkedCount() int {
	if p == nil {
		return 0
	}
	return p.poll.count()
}

// sweep closes the connections parked past their deadline at now.
func (p *parker) sweep(now time.Time) { p.poll.sweep(now) }

func (p *parker) getBuffer() *[]byte  { return p.bufs.get() }
func (p *parker) putBuffer(b *[]byte) { p.bufs.put(b) }

// readAheadInto reads what the socket has now, up to a pooled buffer's
// size, without waiting, and gives p the first of it; the rest stays in
// the buffer for the next reads, which goes back to the pool once read
// out. When nothing is there yet it reads into p as usual: a connection
// that waits for its next frame holds no buffer.
func (c *parkConn) readAheadInto(p []byte) (int, error) {
	c.readAhead = false
	if c.raw == nil {
		if c.raw = rawConnOf(c.Conn); c.raw == nil {
			return c.Conn.Read(p)
		}
	}
	buf := c.parker.getBuffer()
	n, rerr := 0, error(nil)
	err := c.raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), *buf)
		return true // one try: never wait holding the buffer
	})
	if err != nil || rerr != nil || n <= 0 {
		c.parker.putBuffer(buf)
		return c.Conn.Read(p) // it waits, and reports any error
	}
	c.buf, c.r, c.w = buf, 0, n
	return c.readThrough(p) // from the buffer
}
