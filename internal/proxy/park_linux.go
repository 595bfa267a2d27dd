package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// parker is a listener's parking lot for idle connections (see
// park.go) and the net.Listener its http.Server serves: Accept returns
// new connections and parked ones whose next request has come.
//
// One goroutine waits in epoll_wait on the parked sockets; a parked
// connection is only its socket, its parkConn and a map entry. Sockets are
// registered level-triggered and removed when they wake, so a request
// that arrives while a connection is being parked is not missed. Once a
// second the loop closes connections parked past their deadline.
type parker struct {
	ln    net.Listener // the limited listener accepted from
	open  *atomic.Int64
	log   *slog.Logger
	epfd  int
	wake  int           // an eventfd in the epoll set; written to stop the loop
	ready chan net.Conn // to Accept
	done  chan struct{} // closed by Close
	bufs  sync.Pool     // *[]byte of parkBufferSize

	// accepting is closed when the accept loop has stopped.
	accepting chan struct{}

	mu     sync.Mutex
	closed bool
	parked map[int]*parkConn // by socket
}

var errParkerClosed = errors.New("parker closed")

// newParker starts accepting on ln and the epoll loop.
func newParker(ln net.Listener, open *atomic.Int64, log *slog.Logger) (*parker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating an epoll instance: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("creating an eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("adding the eventfd to epoll: %w", err)
	}
	p := &parker{
		ln: ln, open: open, log: log, epfd: epfd, wake: wake,
		ready:     make(chan net.Conn),
		done:      make(chan struct{}),
		accepting: make(chan struct{}),
		parked:    make(map[int]*parkConn),
	}
	go p.accept()
	go p.loop()
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
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.ln.Close() // a listener handed over is closed already
	p.closed = true
	parked := p.parked
	p.parked = nil
	p.mu.Unlock()
	close(p.done)
	unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	for _, c := range parked {
		c.Close()
	}
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
		p.hand(newParkConn(c, p.parkerFor(c), socketOf(c), p.open))
	}
}

// parkerFor returns p for a connection whose socket it can watch.
func (p *parker) parkerFor(c net.Conn) connParker {
	if socketOf(c) < 0 {
		return nil
	}
	return p
}

// hand gives c to the server, or closes it once the server has stopped.
func (p *parker) hand(c *parkConn) {
	select {
	case p.ready <- c:
	case <-p.done:
		c.Close()
	}
}

// socketOf returns the descriptor of an accepted TCP connection, or -1.
func socketOf(c net.Conn) int {
	if lc, ok := c.(*limitedConn); ok {
		c = lc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	raw.Control(func(s uintptr) { fd = int(s) })
	return fd
}

func (p *parker) park(c *parkConn) error {
	expires := c.expiry().UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errParkerClosed
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return err
	}
	c.expires = expires
	p.parked[c.fd] = c
	return nil
}

func (p *parker) forget(c *parkConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked[c.fd] == c {
		delete(p.parked, c.fd)
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
}

// unpark takes the connection on fd out of the parking lot.
func (p *parker) unpark(fd int) *parkConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.parked[fd]
	if c != nil {
		delete(p.parked, fd)
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	return c
}

// loop hands woken connections to the server and closes expired ones,
// until Close.
func (p *parker) loop() {
	defer unix.Close(p.wake)
	defer unix.Close(p.epfd)
	events := make([]unix.EpollEvent, 256)
	nextSweep := time.Now().Add(time.Second)
	for {
		n, err := unix.EpollWait(p.epfd, events, 1000)
		if err != nil && !errors.Is(err, unix.EINTR) {
			p.log.Error("epoll_wait failed; parked connections are closed", "address", p.ln.Addr().String(), "err", err)
			p.Close()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == p.wake {
				return
			}
			if c := p.unpark(int(ev.Fd)); c != nil {
				c.fresh = true // it has bytes or an end of stream to read
				p.hand(c)
			}
		}
		if now := time.Now(); now.After(nextSweep) {
			p.sweep(now)
			nextSweep = now.Add(time.Second)
		}
	}
}

// sweep closes the connections parked past their deadline.
func (p *parker) sweep(now time.Time) {
	var expired []*parkConn
	p.mu.Lock()
	for fd, c := range p.parked {
		if c.expires <= now.UnixNano() {
			delete(p.parked, fd)
			unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
			expired = append(expired, c)
		}
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.Close()
	}
}

// parkedCount is the number of connections parked now; 0 for nil.
func (p *parker) parkedCount() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

func (p *parker) getBuffer() *[]byte {
	if b, ok := p.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, parkBufferSize)
	return &b
}

func (p *parker) putBuffer(b *[]byte) { p.bufs.Put(b) }
