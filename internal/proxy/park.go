package proxy

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Idle HTTP/1.1 keep-alive connections are parked (on TLS listeners
// too, through crypto/tls: parktls_linux.go):
// between two requests a connection holds no goroutine and no buffer,
// only its socket and a parkConn registered with the listener's parker
// (an epoll loop on Linux, park_linux.go). When the client sends its next
// request, the parker hands the connection to its own server
// (h1server_linux.go), which serves plain requests itself and gives the
// connection to the listener's http.Server for anything else; net/http
// then serves it with all it does (framing, 1xx, HEAD, chunking,
// hijacking for upgrades, timeouts) until it is parked again.
//
// The own server reads through the same framing as net/http below and
// parks a connection the same way. The invariant that makes this safe:
// net/http holds no unread byte of a connection when it is parked. A
// connection is parked only when net/http, between requests, asks for
// the next request's bytes and none has come within parkAfter; then
// net/http closes its side (its buffers go back to its pools, its
// goroutine ends) and the parkConn's Close parks the socket instead of
// closing it. To be sure net/http read nothing beyond the request it
// served, a parkConn frames what net/http reads: it reads the request
// head itself and gives net/http that head and not a byte more. A
// request that can have more (a body, an upgrade, h2c, HTTP/1.0, a head
// larger than the buffer), a read past the head that net/http makes for
// its own reasons, or pipelined requests switch the connection to
// pass-through: net/http reads the socket as it always does and the
// connection is never parked again. The one read past the head that is
// expected is net/http's one-byte background read, which watches for the
// client going away while a request is served; when it gets the first
// byte of the next request instead, the parkConn notes the byte and
// frames that request without it.

// parkAfter is how long a connection waits for its next request before
// it is parked. A client sending requests back to back keeps its
// goroutine; one that pauses longer costs a park and a wake-up.
const parkAfter = 5 * time.Millisecond

// h2cPreface is how an HTTP/2 connection without TLS begins (RFC 9113,
// 3.4), up to the end of what frame takes for a request head.
const h2cPreface = "PRI * HTTP/2.0\r\n\r\n"

// parkBufferSize bounds the request heads a parkConn frames; a larger
// head goes to net/http in pass-through.
const parkBufferSize = 4 << 10

// connParker keeps idle connections without goroutines (park_linux.go).
type connParker interface {
	// park registers c until its next request or its deadline; it
	// fails when the parker is closed.
	park(c *parkConn) error
	// forget drops c if it is parked; c is about to be closed.
	forget(c *parkConn)
	// hand gives c, woken, to the server.
	hand(c *parkConn)
	getBuffer() *[]byte
	putBuffer(*[]byte)
}

type readPhase uint8

const (
	phaseNext    readPhase = iota // between requests: the next read is a new head
	phaseHead                     // giving net/http the head in the buffer
	phaseRequest                  // net/http has the whole head
)

// parkConn is an accepted connection of a parking listener, as net/http
// sees it. Reads come from one goroutine at a time (net/http's), except
// Close, which Shutdown may call from another.
type parkConn struct {
	net.Conn               // the accepted connection; its Close really closes
	parker   connParker    // nil: never parked
	fd       int           // the socket, for the parker
	open     *atomic.Int64 // the listener's count of open connections
	// tlsState is the handshake's outcome when Conn is a *tls.Conn
	// (parktls_linux.go); nil on a plain listener.
	tlsState *tls.ConnectionState
	batch    batchSwitch // batches the writes of an h2c connection

	// Read side, owned by the reading goroutine.
	own       bool // the own server reads it (h1server_linux.go), not net/http
	through   bool // pass-through: net/http reads the socket directly
	fresh     bool // net/http has not served a request on it since it got it
	phase     readPhase
	buf       *[]byte // from the parker's pool while it holds bytes
	r, w      int     // the bytes read but not given to net/http: (*buf)[r:w]
	headLeft  int     // bytes of the framed head net/http has not read
	held      byte    // the byte net/http's background read took, if holding
	holding   bool
	h2c       bool // net/http serves HTTP/2 on it (readThrough)
	readAhead bool // the next small read tries a buffer first
	// The own server's wait for the next request: armed, its deadline is
	// set (armWait) and parkable says whether it parks. answer, the own
	// server's while it serves a plain connection, writes a response's
	// last bytes when armed (h1conn.sendAwaiting).
	armed, parkable bool
	pipelined       bool // the client sent a request before its response
	answer          *answerWriter
	raw             syscall.RawConn // Conn's socket, for readAheadInto and answer

	mu       sync.Mutex
	deadline time.Time // the read deadline net/http set last
	parkNext bool      // the next Close parks instead of closing
	closed   bool
	counted  bool  // counted in open
	expires  int64 // while parked: when to close it (Unix ns); guarded by the parker
}

func newParkConn(c net.Conn, p connParker, fd int, open *atomic.Int64) *parkConn {
	open.Add(1)
	return &parkConn{Conn: c, parker: p, fd: fd, open: open, counted: true, through: p == nil, fresh: true}
}

// Read gives net/http the connection's bytes: framed heads, or in
// pass-through what the socket has.
func (c *parkConn) Read(p []byte) (int, error) {
	if c.through {
		return c.readThrough(p)
	}
	switch c.phase {
	case phaseNext:
		if err := c.nextHead(); err != nil {
			return 0, err
		}
		return c.Read(p)
	case phaseHead:
		n := copy(p[:min(len(p), c.headLeft)], (*c.buf)[c.r:c.w])
		c.r += n
		c.headLeft -= n
		if c.headLeft == 0 {
			c.phase = phaseRequest
		}
		c.releaseIfEmpty()
		return n, nil
	}
	// net/http reads past the head. A one-byte read with nothing buffered
	// is its background read, which notices a client going away while the
	// request is served; a byte it gets is the start of the next request,
	// which net/http now holds and nextHead frames without.
	if len(p) == 1 && c.buf == nil && !c.holding {
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.held, c.holding = p[0], true
		}
		return n, err
	}
	c.through = true
	return c.readThrough(p)
}

// readThrough gives what the buffer holds, then reads the socket.
func (c *parkConn) readThrough(p []byte) (int, error) {
	switch {
	case c.buf != nil:
		n := copy(p, (*c.buf)[c.r:c.w])
		c.r += n
		c.releaseIfEmpty()
		return n, nil
	case c.readAhead && len(p) < parkBufferSize:
		return c.readAheadInto(p)
	}
	n, err := c.Conn.Read(p)
	// net/http's HTTP/2 server reads a frame's 9-byte header, then its
	// payload, each straight from the connection. A header read in full
	// says its payload, and often more frames, came with it.
	c.readAhead = c.h2c && n == len(p) && err == nil
	return n, err
}

// nextHead reads the next request head into the buffer and decides how
// net/http gets it: framed, or in pass-through. It returns io.EOF after
// arranging for the connection to be parked when no request came.
func (c *parkConn) nextHead() error {
	switch {
	case c.holding:
		// net/http has the head's first byte already: frame the head
		// with it, give net/http the rest.
		c.buf = c.parker.getBuffer()
		(*c.buf)[0] = c.held
		c.r, c.w = 0, 1
		defer func() {
			c.holding = false
			c.r++
			c.headLeft--
			c.releaseIfEmpty()
		}()
	case c.buf == nil:
		if err := c.waitRequest(); err != nil {
			return err
		}
	}
	return c.frame()
}

// frame reads until the buffer holds a whole head, and frames it if it
// is plain; otherwise the connection goes to pass-through. A head that
// does not come within net/http's header timeout is an error, which
// net/http takes for one and closes the connection.
func (c *parkConn) frame() error {
	extended := false
	defer func() {
		if extended {
			c.mu.Lock()
			deadline := c.deadline
			c.mu.Unlock()
			c.Conn.SetReadDeadline(deadline)
		}
	}()
	for {
		b := (*c.buf)[c.r:c.w]
		if n := headEnd(b); n >= 0 {
			switch {
			case plainHead(b[:n]):
				c.phase, c.headLeft = phaseHead, n
			case c.tlsState == nil && bytes.HasPrefix(b, []byte(h2cPreface)):
				c.through, c.h2c = true, true
				c.batch.start(c.Conn, c.open) // net/http serves HTTP/2 on it from here
			default:
				c.through = true
			}
			return nil
		}
		if c.r > 0 {
			c.w = copy(*c.buf, b)
			c.r = 0
		}
		if c.w == len(*c.buf) {
			c.through = true // a head this large is net/http's to read and judge
			return nil
		}
		if !extended {
			// The request has begun: the rest of its head has net/http's
			// header timeout from now, as net/http gives it once a
			// request's first bytes are in, whatever it waited under.
			c.Conn.SetReadDeadline(time.Now().Add(readHeaderTimeout))
			extended = true
		}
		n, err := c.Conn.Read((*c.buf)[c.w:])
		c.w += n
		if err != nil {
			if isTimeout(err) {
				return err
			}
			// net/http gets the bytes, then the error again.
			c.through = true
			return nil
		}
	}
}

// waitRequest waits for the first bytes of the next request, at most
// parkAfter; when none come, the connection is to be parked. A
// connection net/http has just got is not parked before its first
// request: net/http reads it first to look for h2c's preface and goes on
// after an error there, so an io.EOF would not end its turn.
func (c *parkConn) waitRequest() error {
	if !c.armed {
		c.armWait()
	}
	canPark := c.parkable
	c.armed = false
	c.mu.Lock()
	deadline := c.deadline
	c.mu.Unlock()
	c.buf = c.parker.getBuffer()
	n, err := c.Conn.Read(*c.buf)
	if canPark && !c.own {
		// net/http reads on under the deadline it set; the own server
		// reads nothing until the next wait, which sets its own.
		c.Conn.SetReadDeadline(deadline)
	}
	c.r, c.w = 0, n
	if n > 0 {
		return nil
	}
	c.releaseIfEmpty()
	if canPark && isTimeout(err) {
		c.mu.Lock()
		c.parkNext = !c.closed
		c.mu.Unlock()
		return io.EOF // net/http closes its side quietly; Close parks
	}
	return err
}

// armWait sets the deadline of the wait for the next request: parkAfter
// from now when the connection can be parked then. It cannot when it is
// new to net/http, or when net/http's own deadline comes first.
func (c *parkConn) armWait() {
	c.mu.Lock()
	deadline := c.deadline
	c.mu.Unlock()
	grace := time.Now().Add(parkAfter)
	c.parkable = !c.fresh && (deadline.IsZero() || grace.Before(deadline))
	if c.parkable {
		c.Conn.SetReadDeadline(grace)
	}
	c.armed = true
}

func (c *parkConn) releaseIfEmpty() {
	if c.buf != nil && c.r == c.w {
		c.parker.putBuffer(c.buf)
		c.buf, c.r, c.w = nil, 0, 0
	}
}

// ready is called by the poller when the parked connection is readable:
// its next request, or its end, has come.
func (c *parkConn) ready() { c.parker.hand(c) }

// expired is called by the poller when the parked connection's deadline
// passed, or when the parker closes. Closing a TLS connection sends an
// alert, which can wait up to 5 s for a client that does not read: not
// in the poller's goroutine.
func (c *parkConn) expired() {
	if c.tlsState != nil {
		go c.Close()
		return
	}
	c.Close()
}

// forHTTP is the connection as the listener's http.Server gets it.
func (c *parkConn) forHTTP() net.Conn {
	if c.tlsState != nil {
		return tlsParkConn{c}
	}
	return c
}

// tlsParkConn is a parkConn over TLS as net/http sees it: net/http takes
// the TLS state of a connection that is not a *tls.Conn from its
// ConnectionState method, for Request.TLS.
type tlsParkConn struct{ *parkConn }

func (c tlsParkConn) ConnectionState() tls.ConnectionState { return *c.tlsState }

// parkConnOf returns the parkConn that c is, or nil.
func parkConnOf(c net.Conn) *parkConn {
	switch c := c.(type) {
	case *parkConn:
		return c
	case tlsParkConn:
		return c.parkConn
	}
	return nil
}

// takeBuffered returns the bytes read and not yet given to net/http, and
// drops them: a relay sends them on before it reads the socket itself.
func (c *parkConn) takeBuffered() []byte {
	if c.buf == nil {
		return nil
	}
	b := bytes.Clone((*c.buf)[c.r:c.w])
	c.r = c.w
	c.releaseIfEmpty()
	return b
}

// idle is called when net/http is done with a request and will read the
// next one.
func (c *parkConn) idle() {
	c.fresh = false
	if c.through {
		return
	}
	if c.phase != phaseRequest {
		// net/http did not read the whole framed head: let it have the
		// rest as it likes, never parked.
		c.through = true
		return
	}
	c.phase = phaseNext
}

// Close parks the connection when its last read found no request;
// otherwise it closes it.
func (c *parkConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	if c.parkNext {
		c.parkNext = false
		c.mu.Unlock()
		if c.parker.park(c) == nil {
			return nil
		}
		c.mu.Lock()
	}
	c.closed = true
	c.mu.Unlock()
	if c.parker != nil {
		c.parker.forget(c)
	}
	err := c.batch.close(c.Conn) // counts it while its last bytes go out
	c.uncount()
	return err
}

func (c *parkConn) Write(p []byte) (int, error) {
	if a := c.answer; a != nil && a.armed {
		return a.write(c.Conn, p)
	}
	return c.batch.write(c.Conn, p)
}

// uncount takes the connection out of the listener's count of open
// connections, once: when it closes, or when a handler takes it over.
func (c *parkConn) uncount() {
	c.mu.Lock()
	counted := c.counted
	c.counted = false
	c.mu.Unlock()
	if counted {
		c.open.Add(-1)
	}
}

func (c *parkConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.batch.conn(c.Conn).SetDeadline(t)
}

func (c *parkConn) SetWriteDeadline(t time.Time) error {
	return c.batch.conn(c.Conn).SetWriteDeadline(t)
}

func (c *parkConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// expireAt sets when the connection is closed if it is parked, without
// touching the socket's deadline: the own server's loop does not read
// under one between requests, except the wait before parking.
func (c *parkConn) expireAt(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

// expiry is when a parked connection is closed: the read deadline
// net/http set for the request it waited for (its header timeout for a
// new connection, its idle timeout between requests).
func (c *parkConn) expiry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline.IsZero() {
		return time.Now().Add(idleTimeout)
	}
	return c.deadline
}

// headEnd returns the length of the request head at the start of b, up
// to and including the empty line that ends it, or -1 if b does not hold
// a whole head. Lines end in LF with an optional CR before it, as
// net/http reads them.
func headEnd(b []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// plainHead reports whether head is the head of an HTTP/1.1 request that
// ends with its head: no body, no upgrade, nothing net/http would read
// more bytes for. Anything it is not sure of is not plain.
func plainHead(head []byte) bool {
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	method, _, _ := bytes.Cut(line, []byte(" "))
	if len(method) == 0 || !bytes.HasSuffix(line, []byte(" HTTP/1.1")) ||
		string(method) == "PRI" || string(method) == "CONNECT" {
		return false
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return false // obsolete line folding
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		for _, h := range [...]string{"Content-Length", "Transfer-Encoding", "Upgrade", "Expect"} {
			if bytes.EqualFold(bytes.TrimSpace(name), []byte(h)) {
				return false
			}
		}
	}
	return true
}
