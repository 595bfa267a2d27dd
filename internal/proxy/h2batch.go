package proxy

import (
	"net"
	"sync"
	"time"
)

// maxBatch is how many bytes may wait in a batchConn before Write blocks,
// as it would on a full socket buffer.
const maxBatch = 256 << 10

// maxSpare is the largest write buffer a batchConn keeps for its next
// batch; one grown by a burst of body data is left to the GC.
const maxSpare = 32 << 10

// batchCloseWait is how long Close waits for queued bytes (a GOAWAY, a
// TLS close_notify) to be written before it closes the connection anyway.
const batchCloseWait = time.Second

// batchConn gathers the writes to a target's HTTP/2 connection and sends
// them from one goroutine. x/net/http2 flushes after every frame: a gRPC
// call is a HEADERS frame, a DATA frame and an empty DATA frame that ends
// the stream, three writes and three packets. Here Write only queues and
// wakes the writer goroutine, which the scheduler runs next on the same
// P, once the goroutine that wrote yields (it waits for the next body
// bytes or for the response); the writer sends everything queued by then
// in one write. A stream's frames are thus sent as soon as the proxy has
// nothing more to add, as gRPC's own transport does. Another P may pick
// the writer up sooner; the batch is then smaller. The wait is bounded:
// past maxBatch queued bytes Write blocks until the writer has run.
//
// Write reports success once its bytes are queued. A failed write closes
// the connection, so the HTTP/2 client sees the error on its next read,
// and every later Write returns it.
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	drained *sync.Cond // signalled when the writer took the queue or failed
	queue   []byte
	spare   []byte // the buffer of the last write, reused for the next queue
	err     error  // the first write error; sticky

	wake      chan struct{} // capacity 1: the queue has bytes
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the writer goroutine ended
	closeOnce sync.Once
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{
		Conn: c,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	b.drained = sync.NewCond(&b.mu)
	go b.run()
	return b
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	for b.err == nil && len(b.queue) >= maxBatch {
		b.drained.Wait()
	}
	if b.err != nil {
		b.mu.Unlock()
		return 0, b.err
	}
	b.queue = append(b.queue, p...)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // the writer is woken already
	}
	return len(p), nil
}

// run is the writer goroutine: it writes what is queued, until Close.
func (b *batchConn) run() {
	defer close(b.done)
	for {
		select {
		case <-b.wake:
			if !b.flush() {
				return
			}
		case <-b.stop:
			b.flush()
			return
		}
	}
}

// flush writes the queue until it is empty; false once a write failed.
func (b *batchConn) flush() bool {
	for {
		b.mu.Lock()
		out := b.queue
		if len(out) == 0 {
			b.mu.Unlock()
			return true
		}
		b.queue, b.spare = b.spare[:0], nil
		b.drained.Broadcast()
		b.mu.Unlock()
		_, err := b.Conn.Write(out)
		b.mu.Lock()
		if cap(out) <= maxSpare {
			b.spare = out[:0]
		}
		if err != nil {
			b.err = err
			b.drained.Broadcast()
		}
		b.mu.Unlock()
		if err != nil {
			b.Conn.Close() // the reader sees the failure too
			return false
		}
	}
}

// Close writes what is queued, waiting at most batchCloseWait, and closes
// the connection.
func (b *batchConn) Close() error {
	b.closeOnce.Do(func() { close(b.stop) })
	t := time.NewTimer(batchCloseWait)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.drained.Broadcast()
	b.mu.Unlock()
	return b.Conn.Close()
}
