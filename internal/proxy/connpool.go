package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// connPool keeps one target's idle keep-alive connections for the fast
// path. It lives in the target, so a target removed and added again (a
// new process, maybe) starts with fresh connections, and a drained target
// closes its own. Idle connections hold no buffers.
type connPool struct {
	mu     sync.Mutex
	idle   []*upstreamConn // most recently used last
	closed bool
	sweep  *time.Timer // closes connections idle for idleConnTimeout
}

// upstreamConn is one connection to a target.
type upstreamConn struct {
	conn      net.Conn
	fr        flushingReader  // what br reads from
	raw       syscall.RawConn // for the liveness check; nil if unsupported
	br        *bufio.Reader   // nil while idle
	bw        *bufio.Writer   // nil while idle
	idleSince time.Time
	reused    bool // it served a request before this one
	// bodiless: its last response had no body by rule (HEAD, 204, 304),
	// after which a target that sends one anyway sends it unasked.
	bodiless bool

	// The liveness check, kept to spare an allocation per request.
	peek    func(fd uintptr) bool
	peekBuf [1]byte
	peekOK  bool

	// bw writes to the connection through upstreamWriter, which passes
	// a request's last bytes to answer (sendAwaiting).
	answer answerWriter
}

// upstreamWriter is what an upstreamConn's bw writes to.
type upstreamWriter upstreamConn

func (w *upstreamWriter) Write(p []byte) (int, error) {
	c := (*upstreamConn)(w)
	if c.answer.armed {
		return c.answer.write(c.conn, p)
	}
	return c.conn.Write(p)
}

// sendAwaiting flushes the request in bw and waits until the response
// can be read, without a read that finds nothing (answerWriter).
func (c *upstreamConn) sendAwaiting() error { return c.answer.flush(c.bw) }

// uncheckedReuse is how long a connection may have been idle for a
// replayable request to reuse it without looking at it first
// (connPool.get); other requests always look.
const uncheckedReuse = 100 * time.Millisecond

// Buffer sizes of the fast path. The reader must hold a typical response
// head; bodies larger than it are read around it.
const (
	upstreamReadBuffer  = 8 << 10
	upstreamWriteBuffer = 4 << 10
)

// get returns an idle connection that still looks alive, or nil.
//
// Looking costs a system call per request, which a request that can be
// sent twice does without on a connection idle for less than
// uncheckedReuse: if the target closed it meanwhile, the request goes
// again on a new connection before any byte of a response came
// (fastForwarder.roundTrip), as in net/http's Transport. Under load a
// connection is reused within milliseconds; servers close idle ones after
// seconds (Node 5, Apache 5, gunicorn 2, nginx 75), and a target that
// shuts down was drained first. A connection idle for longer, or whose
// last response had no body by rule, is looked at for every request: a
// server may have closed it, or sent bytes nobody asked for (a 408 at its
// idle timeout, a body after a HEAD), which must not pass for the
// response to the next request. Not caught: bytes past the end of a
// response with a body that come in a later packet, within uncheckedReuse
// (a broken target); they are read as the next response's start, which
// fails (502) unless they parse as a response.
func (p *connPool) get(replayable bool) *upstreamConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := time.Since(c.idleSince)
		if idle < idleConnTimeout && (replayable && idle < uncheckedReuse && !c.bodiless || c.alive()) {
			c.reused = true
			return c
		}
		c.conn.Close()
	}
}

// put returns a connection whose last response was read completely. It
// is closed instead when the pool is closed or full.
func (p *connPool) put(c *upstreamConn, bufs *bufferPools) {
	bufs.putReader(c.br)
	bufs.putWriter(c.bw)
	c.br, c.bw = nil, nil
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdleConnsPerHost {
		p.mu.Unlock()
		c.conn.Close()
		return
	}
	p.idle = append(p.idle, c)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(idleConnTimeout, p.closeStale)
	}
	p.mu.Unlock()
}

// closeStale closes connections idle for longer than idleConnTimeout;
// it runs while the pool holds any.
func (p *connPool) closeStale() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	i := 0
	for i < len(p.idle) && time.Since(p.idle[i].idleSince) >= idleConnTimeout {
		p.idle[i].conn.Close()
		i++
	}
	p.idle = append(p.idle[:0], p.idle[i:]...)
	if len(p.idle) == 0 {
		p.sweep = nil
		return
	}
	p.sweep.Reset(idleConnTimeout - time.Since(p.idle[0].idleSince))
}

// close closes the idle connections; connections in use are closed when
// they are returned.
func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.conn.Close()
	}
	p.idle = nil
	if p.sweep != nil {
		p.sweep.Stop()
	}
}

// dial opens a new connection to addr.
func dial(ctx context.Context, dialer *net.Dialer, addr string) (*upstreamConn, error) {
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &upstreamConn{conn: conn}
	c.fr.conn = conn
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
		c.answer.setRaw(c.raw)
	}
	return c, nil
}

// alive reports whether an idle connection can carry a request: the
// target has not closed it and sent nothing unasked. A target that closes
// a connection between this check and the request is handled by the
// caller's retry (see fastForwarder.roundTrip).
func (c *upstreamConn) alive() bool {
	if c.raw == nil {
		return true
	}
	return c.peekAlive()
}

// bufferPools recycles the buffers of connections in use.
type bufferPools struct {
	readers sync.Pool
	writers sync.Pool
	copies  *bufferPool // of copyBufferSize, for large bodies
}

func (b *bufferPools) getReader(r io.Reader) *bufio.Reader {
	if br, ok := b.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, upstreamReadBuffer)
}

func (b *bufferPools) putReader(br *bufio.Reader) {
	if br != nil {
		br.Reset(nil)
		b.readers.Put(br)
	}
}

func (b *bufferPools) getWriter(w io.Writer) *bufio.Writer {
	if bw, ok := b.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, upstreamWriteBuffer)
}

func (b *bufferPools) putWriter(bw *bufio.Writer) {
	if bw != nil {
		bw.Reset(nil)
		b.writers.Put(bw)
	}
}

// flushingReader reads from a target connection and, before it does,
// flushes what was written to the client: a response streams to the
// client whenever the proxy is about to wait for the target, and small
// responses that arrive in one piece are written in one piece.
type flushingReader struct {
	conn    net.Conn
	flusher http.Flusher // nil while reading a response head
	dirty   bool         // written to the client since the last flush
}

func (r *flushingReader) Read(p []byte) (int, error) {
	if r.dirty {
		r.dirty = false
		r.flusher.Flush()
	}
	return r.conn.Read(p)
}
