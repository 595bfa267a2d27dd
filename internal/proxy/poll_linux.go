package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// poller watches sockets that nothing reads now, without a goroutine per
// socket: one goroutine waits on all of them, in an epoll set, and wakes the
// watcher of a socket that became readable (or was closed by its peer).
// A parked keep-alive connection (park.go) and an idle upgraded connection
// (relay_linux.go) are each only their socket and a map entry here.
//
// Sockets are registered level-triggered and removed when they wake, so
// bytes that arrive while a socket is being registered are not missed and
// a watcher is woken once per watch. Once a second the loop expires the
// entries whose deadline has passed.
//
// The loop never blocks in epoll_wait: the epoll instance is itself
// registered with Go's netpoller (an epoll descriptor is readable while
// it has events), and the loop asks it for events without waiting, then
// waits in Go's netpoller like any connection. A goroutine blocked in a
// system call keeps Go's only processor (GOMAXPROCS=1, the data plane's
// setting on one core) until the runtime's monitor takes it back, which
// can take it 10–20 ms when it has long had nothing to do: every other
// request waited that long each time the loop went back to epoll_wait
// (bench/RESULTS.md).
type poller struct {
	log  *slog.Logger
	epfd int
	file *os.File        // epfd, registered with Go's netpoller
	raw  syscall.RawConn // file's, to wait for events
	wake int             // an eventfd in the epoll set; written to stop the loop

	mu      sync.Mutex
	closed  bool
	entries map[int]pollEntry // by socket
	serving int               // entries of connections being served (watchGone)
	seq     uint32            // the last registration's number
	stopped bool              // the loop was told to stop, or has: epfd and wake may be gone
}

// watcher is told when its socket is readable, or when its deadline
// passed. Both are called from the poller's goroutine, which wakes no
// other watcher meanwhile: they hand the work on and return (a parked
// connection waits only for its server's accept loop to take it).
type watcher interface {
	ready()
	expired()
}

type pollEntry struct {
	w       watcher
	expires int64  // Unix ns; 0: never
	serving bool   // watched for its end only (watchGone)
	seq     uint32 // of this registration: an event for an earlier one is stale
}

var errPollerClosed = errors.New("poller closed")

func newPoller(log *slog.Logger) (*poller, error) {
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
	p := &poller{log: log, epfd: epfd, wake: wake, entries: make(map[int]pollEntry)}
	if err := p.openFile(); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	go p.loop()
	return p, nil
}

// openFile registers epfd with Go's netpoller, which takes a descriptor in
// non-blocking mode only.
func (p *poller) openFile() error {
	if err := unix.SetNonblock(p.epfd, true); err != nil {
		return fmt.Errorf("making the epoll instance non-blocking: %w", err)
	}
	p.file = os.NewFile(uintptr(p.epfd), "epoll")
	raw, err := p.file.SyscallConn()
	if err == nil {
		// A deadline is how the loop wakes to sweep; a file the netpoller
		// did not take would refuse it, and the loop would block for good.
		err = p.file.SetReadDeadline(time.Time{})
	}
	if err != nil {
		p.file.Close()
		return fmt.Errorf("registering the epoll instance with the netpoller: %w", err)
	}
	p.raw = raw
	return nil
}

// watch registers fd until it is readable or expires (zero: never).
func (p *poller) watch(fd int, w watcher, expires time.Time) error {
	var ns int64
	if !expires.IsZero() {
		ns = expires.UnixNano()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPollerClosed
	}
	return p.addLocked(fd, unix.EPOLLIN|unix.EPOLLRDHUP, pollEntry{w: w, expires: ns})
}

// watchGone registers fd until its peer closes or resets it: a
// connection being served, whose client may go away meanwhile.
func (p *poller) watchGone(fd int, w watcher) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPollerClosed
	}
	return p.addLocked(fd, unix.EPOLLRDHUP, pollEntry{w: w, serving: true})
}

// addLocked registers fd for events with e. The registration's number
// travels with its events, so that an event read from epoll before fd was
// closed, and taken after the descriptor was reused, wakes no one.
func (p *poller) addLocked(fd int, events uint32, e pollEntry) error {
	p.seq++
	e.seq = p.seq
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(e.seq)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("watching socket %d: %w", fd, err)
	}
	p.entries[fd] = e
	if e.serving {
		p.serving++
	}
	return nil
}

// forget drops fd if w watches it; its socket is about to be closed.
func (p *poller) forget(fd int, w watcher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.entries[fd]; ok && e.w == w {
		p.removeLocked(fd)
	}
}

func (p *poller) removeLocked(fd int) {
	if p.entries[fd].serving {
		p.serving--
	}
	delete(p.entries, fd)
	if p.stopped {
		return // epfd is closed, or about to be
	}
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	if p.closed && p.serving == 0 {
		p.stopLocked()
	}
}

// take removes fd's entry and returns its watcher, if the entry is the
// registration numbered seq.
func (p *poller) take(fd int, seq uint32) watcher {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[fd]
	if !ok || e.seq != seq {
		return nil
	}
	p.removeLocked(fd)
	return e.w
}

// count is the number of sockets watched now, not counting connections
// being served; 0 for nil.
func (p *poller) count() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries) - p.serving
}

// close expires the parked watchers, which close their connections, and
// refuses new ones. Connections being served stay watched, so that their
// clients going away is still noticed while a shutdown lets them finish;
// the loop stops when the last of them is forgotten.
func (p *poller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var ws []watcher
	for fd, e := range p.entries {
		if !e.serving {
			ws = append(ws, e.w)
			delete(p.entries, fd)
		}
	}
	if p.serving == 0 {
		p.stopLocked()
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.expired()
	}
}

// stopLocked tells the loop to stop, once.
func (p *poller) stopLocked() {
	if !p.stopped {
		p.stopped = true
		unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
}

// loop wakes watchers until close.
func (p *poller) loop() {
	defer func() {
		p.mu.Lock()
		p.stopped = true
		p.mu.Unlock()
		p.file.Close()
		unix.Close(p.wake)
	}()
	events := make([]unix.EpollEvent, 256)
	nextSweep := time.Now().Add(time.Second)
	for {
		n, err := p.wait(events, nextSweep)
		if err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, os.ErrDeadlineExceeded) {
			p.log.Error("epoll_wait failed; watched connections are closed", "err", err)
			p.close()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == p.wake {
				return
			}
			if w := p.take(int(ev.Fd), uint32(ev.Pad)); w != nil {
				w.ready()
			}
		}
		if now := time.Now(); now.After(nextSweep) {
			p.sweep(now)
			nextSweep = now.Add(time.Second)
		}
	}
}

// wait returns the events ready, waiting for them in Go's netpoller until
// deadline at the latest (os.ErrDeadlineExceeded).
func (p *poller) wait(events []unix.EpollEvent, deadline time.Time) (int, error) {
	if err := p.file.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	var n int
	var werr error
	err := p.raw.Read(func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), events, 0)
		return n != 0 || werr != nil // nothing yet: wait for the descriptor to be readable
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}

// sweep expires the entries whose deadline has passed.
func (p *poller) sweep(now time.Time) {
	var expired []watcher
	p.mu.Lock()
	for fd, e := range p.entries {
		if e.expires != 0 && e.expires <= now.UnixNano() {
			p.removeLocked(fd)
			expired = append(expired, e.w)
		}
	}
	p.mu.Unlock()
	for _, w := range expired {
		w.expired()
	}
}

// socketOf returns the descriptor of a TCP connection under the proxy's
// wrappers, or -1.
func socketOf(c net.Conn) int {
	raw := rawConnOf(c)
	if raw == nil {
		return -1
	}
	fd := -1
	raw.Control(func(s uintptr) { fd = int(s) })
	return fd
}

// unwrapConn returns the connection under the proxy's wrappers.
func unwrapConn(c net.Conn) net.Conn {
	for {
		switch w := c.(type) {
		case *parkConn:
			c = w.Conn
		case tlsParkConn:
			c = w.Conn
		case *limitedConn:
			c = w.Conn
		default:
			return c
		}
	}
}
