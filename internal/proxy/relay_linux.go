package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// relays are a listener's upgraded connections (upgrade.go). Each is two
// halves, client to target and target to client. A half whose source has
// nothing to read waits in the poller; when bytes come, a goroutine with
// a pooled buffer copies what there is, then the half waits again. So an
// idle WebSocket costs its two sockets and two poller entries, not two
// goroutines with 32 KiB buffers and the handler's goroutine.
//
// When one side ends its stream, the relay passes the end on
// (shutdown(SHUT_WR) of the other side's socket) and goes on in the
// other direction, as httputil.ReverseProxy's upgrade copy does. It
// ends, closing both connections, when both directions have ended, on
// an error, when its target's deregistration delay is over, or when the
// listener's base context ends at the end of a shutdown. Until then it counts as a request in flight
// on its target and its listener.
type relays struct {
	poll *poller
	bufs *bufferPool // of relayBufferSize
}

const relayBufferSize = 16 << 10

func newRelays(log *slog.Logger) (*relays, error) {
	poll, err := newPoller(log)
	if err != nil {
		return nil, err
	}
	return &relays{poll: poll, bufs: newBufferPool(relayBufferSize)}, nil
}

// close ends the relays still running.
func (rs *relays) close() { rs.poll.close() }

type relay struct {
	rs     *relays
	x      *exchange
	conns  [2]net.Conn // client, target
	halves [2]relayHalf

	mu    sync.Mutex
	over  bool
	stops []func() bool
}

type relayHalf struct {
	r     *relay
	src   net.Conn
	dst   net.Conn
	raw   syscall.RawConn // src's
	fd    int             // src's
	ended bool            // src ended its stream; guarded by r.mu
}

// start takes over x: it ends when the relay does.
func (rs *relays) start(x *exchange, client, target net.Conn) {
	r := &relay{rs: rs, x: x, conns: [2]net.Conn{client, target}}
	for i, src := range r.conns {
		r.halves[i] = relayHalf{r: r, src: src, dst: r.conns[1-i], raw: rawConnOf(src), fd: socketOf(src)}
	}
	x.detached = true
	x.inFlight.Add(1)
	x.target.unlink(x)
	// The request is over for net/http: its context goes, and with it
	// the chain of contexts it holds.
	x.cancel(nil)
	x.ctx, x.cancel = nil, nil
	r.mu.Lock()
	r.stops = []func() bool{
		context.AfterFunc(x.target.cut, r.end),
		context.AfterFunc(x.base, r.end),
	}
	r.mu.Unlock()
	for i := range r.halves {
		if r.halves[i].raw == nil || r.halves[i].fd < 0 {
			r.end()
			return
		}
	}
	// Both start waiting: the poller wakes a half at once if its source
	// has bytes already, and a quiet one never takes a goroutine.
	for i := range r.halves {
		r.wait(&r.halves[i])
	}
}

// pump copies what src has to dst, then waits in the poller for more.
func (h *relayHalf) pump() {
	bp := h.r.rs.bufs.get()
	defer h.r.rs.bufs.put(bp)
	for {
		n, err := h.readNow(*bp)
		switch {
		case n > 0:
			if _, err := h.dst.Write((*bp)[:n]); err != nil {
				h.r.end()
				return
			}
		case errors.Is(err, unix.EAGAIN):
			h.r.wait(h)
			return
		case errors.Is(err, io.EOF):
			h.r.halfEnded(h)
			return
		default:
			h.r.end()
			return
		}
	}
}

// readNow reads what src has without waiting: unix.EAGAIN when nothing.
func (h *relayHalf) readNow(b []byte) (n int, err error) {
	rerr := h.raw.Read(func(fd uintptr) bool {
		n, err = unix.Read(int(fd), b)
		return true
	})
	switch {
	case rerr != nil:
		return 0, rerr // closed
	case n < 0:
		return 0, err
	case n == 0 && err == nil:
		return 0, io.EOF
	}
	return n, err
}

func (h *relayHalf) ready()   { go h.pump() }
func (h *relayHalf) expired() { h.r.end() }

// wait puts h in the poller, unless the relay is over.
func (r *relay) wait(h *relayHalf) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over {
		return
	}
	if err := r.rs.poll.watch(h.fd, h, time.Time{}); err != nil {
		go r.end()
	}
}

// halfEnded passes the end of h's stream on to its destination, and
// ends the relay once both directions have ended.
func (r *relay) halfEnded(h *relayHalf) {
	cw, ok := unwrapConn(h.dst).(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		r.end()
		return
	}
	r.mu.Lock()
	h.ended = true
	both := r.halves[0].ended && r.halves[1].ended
	r.mu.Unlock()
	if both {
		r.end()
	}
}

// end closes both connections and finishes the exchange, once.
func (r *relay) end() {
	r.mu.Lock()
	if r.over {
		r.mu.Unlock()
		return
	}
	r.over = true
	stops := r.stops
	r.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	for i := range r.halves {
		r.rs.poll.forget(r.halves[i].fd, &r.halves[i])
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.x.finish()
	r.x.inFlight.Add(-1)
}

// rawConnOf returns the syscall.RawConn of a TCP connection under the
// proxy's wrappers, or nil.
func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := unwrapConn(c).(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
