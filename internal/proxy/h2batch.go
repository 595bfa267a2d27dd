package proxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// How many bytes may wait in a batchConn before Write blocks, as it would
// on a full socket buffer, and the largest write buffer it keeps for its
// next batch (one grown by a burst of body data is left to the GC). A
// client connection gets less of both: there are many more of them, most
// of the time idle, and one whose client does not read holds what waits.
const (
	targetMaxBatch = 256 << 10
	targetSpare    = 32 << 10
	clientMaxBatch = 16 << 10
	clientSpare    = 4 << 10
)

// batchCloseWait is how long a closed batchConn's queued bytes (a GOAWAY,
// a TLS close_notify) may take to be written before the connection is
// closed anyway.
const batchCloseWait = time.Second

// batchConn gathers the writes to an HTTP/2 connection and sends them
// from one goroutine. x/net/http2's client flushes after every frame: a
// gRPC call is a HEADERS frame, a DATA frame and an empty DATA frame that
// ends the stream, three writes and three packets. Here Write only queues
// and, unless a writer goroutine runs already, starts one, which the
// scheduler runs next on the same P once the goroutine that wrote yields
// (it waits for the next body bytes or for the response); the writer
// sends everything queued by then in one write, and ends when the queue
// is empty. A stream's frames are thus sent as soon as the proxy has
// nothing more to add, as gRPC's own transport does, and an idle
// connection holds no goroutine. Another P may pick the writer up sooner;
// the batch is then smaller. The wait is bounded: past max queued
// bytes Write blocks until the writer has run.
//
// Write reports success once its bytes are queued. A failed write closes
// the connection, so the HTTP/2 peer's reader sees the error on its next
// read, and every later Write returns it. Write deadlines are not passed
// to the socket: a Write never waits on it, and a deadline would cut the
// writer's write of what is queued (crypto/tls sets one after queueing
// its close_notify, to fail later writes). Close bounds the writer
// instead. Invariant: while the queue holds bytes and no write failed, a
// writer runs.
type batchConn struct {
	net.Conn
	max  int // the most bytes queued before Write waits
	keep int // the largest spare kept

	mu      sync.Mutex
	drained *sync.Cond // signalled when the writer took the queue or ended
	queue   []byte
	spare   []byte      // the buffer of the last write, reused for the next queue
	writing bool        // a writer goroutine runs
	closing bool        // Close was called: Write refuses
	err     error       // the first write error; sticky
	cut     *time.Timer // closes the socket batchCloseWait after Close

	// lingering, when not nil, counts the connection from a Close that
	// leaves the writer running until the socket is closed: the
	// listener's count of open connections, which a hand-over waits on,
	// drops at Close.
	lingering *atomic.Int64
	closed    sync.Once // the socket, after Close
}

// newBatchConn batches the writes to c. Write waits while max bytes are
// queued; write buffers of up to keep bytes are kept between batches.
func newBatchConn(c net.Conn, max, keep int) *batchConn {
	b := &batchConn{Conn: c, max: max, keep: keep}
	b.drained = sync.NewCond(&b.mu)
	return b
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && !b.closing && len(b.queue) >= b.max {
		b.drained.Wait()
	}
	switch {
	case b.err != nil:
		return 0, b.err
	case b.closing:
		return 0, net.ErrClosed
	}
	b.queue = append(b.queue, p...)
	if !b.writing {
		b.writing = true
		go b.run()
	}
	return len(p), nil
}

// run is the writer goroutine: it writes what is queued until the queue
// is empty or a write failed.
func (b *batchConn) run() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) > 0 && b.err == nil {
		out := b.queue
		b.queue, b.spare = b.spare[:0], nil
		b.drained.Broadcast()
		b.mu.Unlock()
		_, err := b.Conn.Write(out)
		if err != nil {
			b.Conn.Close() // the reader sees the failure too
		}
		b.mu.Lock()
		if cap(out) <= b.keep {
			b.spare = out[:0]
		}
		if err != nil {
			b.err = err
		}
	}
	b.writing = false
	b.drained.Broadcast()
	if b.closing {
		b.cut.Stop()
		b.closeSocket()
	}
}

// Close refuses further writes and closes the connection once what is
// queued was written, at most batchCloseWait from now. It does not wait
// for that: http.Server.Close closes its connections one after another.
func (b *batchConn) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return net.ErrClosed
	}
	b.closing = true
	b.drained.Broadcast()
	if !b.writing {
		return b.Conn.Close()
	}
	// The writer closes it when done; a peer that reads nothing holds
	// the writer up, and is cut.
	if b.lingering != nil {
		b.lingering.Add(1)
	}
	b.cut = time.AfterFunc(batchCloseWait, b.closeSocket)
	return nil
}

// closeSocket closes the socket after Close left the writer running.
func (b *batchConn) closeSocket() {
	b.Conn.Close()
	b.closed.Do(func() {
		if b.lingering != nil {
			b.lingering.Add(-1)
		}
	})
}

// SetDeadline sets the read deadline only (see batchConn).
func (b *batchConn) SetDeadline(t time.Time) error { return b.Conn.SetReadDeadline(t) }

// SetWriteDeadline does nothing (see batchConn).
func (b *batchConn) SetWriteDeadline(time.Time) error { return nil }

// batchSwitch batches a client connection's writes from the moment the
// connection turns out to speak HTTP/2: ALPN h2 after a TLS handshake
// (parktls_linux.go), or h2c's preface on a plain listener (park.go).
// net/http's HTTP/2 server, like x/net's client, writes each frame on
// its own: a unary gRPC response is a HEADERS, a DATA and a trailing
// HEADERS frame, three writes where one does. HTTP/1.1 connections keep
// writing straight to the socket, with no goroutine of their own.
type batchSwitch struct{ batch atomic.Pointer[batchConn] }

// start sends c's later writes through a batchConn; only the first call
// does. open is the listener's count of open connections, which counts
// c until its socket is closed.
func (s *batchSwitch) start(c net.Conn, open *atomic.Int64) {
	b := newBatchConn(c, clientMaxBatch, clientSpare)
	b.lingering = open
	s.batch.CompareAndSwap(nil, b)
}

// write writes p to c, through the batchConn once started.
func (s *batchSwitch) write(c net.Conn, p []byte) (int, error) {
	if b := s.batch.Load(); b != nil {
		return b.Write(p)
	}
	return c.Write(p)
}

// close closes c, once the batchConn sent what it holds.
func (s *batchSwitch) close(c net.Conn) error {
	if b := s.batch.Load(); b != nil {
		return b.Close()
	}
	return c.Close()
}

// conn is what c's deadlines are set on: the batchConn once started.
func (s *batchSwitch) conn(c net.Conn) net.Conn {
	if b := s.batch.Load(); b != nil {
		return b
	}
	return c
}

// underTLS is the socket beneath a TLS listener's tls.Conn: TLS records
// are batched once the handshake chose h2.
type underTLS struct {
	net.Conn
	batchSwitch
}

func (c *underTLS) Write(p []byte) (int, error)        { return c.write(c.Conn, p) }
func (c *underTLS) Close() error                       { return c.close(c.Conn) }
func (c *underTLS) SetDeadline(t time.Time) error      { return c.conn(c.Conn).SetDeadline(t) }
func (c *underTLS) SetWriteDeadline(t time.Time) error { return c.conn(c.Conn).SetWriteDeadline(t) }
