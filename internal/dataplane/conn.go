package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// Conn is the control plane's hold on its data plane: it pushes
// configurations, keeps the target states the data plane streams, and
// follows the data plane across hand-overs. If the data plane dies, Conn
// starts a new one at once and pushes the last configuration again.
// Conn implements the deployment controller's Router.
type Conn struct {
	client   *Client
	launcher Starter
	log      *slog.Logger
	onEvent  func(kind, msg string)

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	done   chan struct{} // closed when watch returns

	dataDir string

	pushMu  sync.Mutex // serializes pushes; guards the fields below
	version uint64
	last    *proxy.Config       // the last configuration acknowledged
	held    map[string]*os.File // copies of its listening sockets; see keep.go

	mu        sync.Mutex // guards the fields below
	targets   []proxy.TargetState
	listeners map[string]string
	pid       int
	changes   chan struct{}
}

// Starter starts a data plane on a data directory and returns its pid
// once it serves; takeover replaces the one running. Launcher starts a
// process; InProcess runs one inside this process, for tests.
type Starter interface {
	Start(ctx context.Context, takeover bool, sockets map[string]*os.File) (pid int, err error)
}

// AttachOptions configure Attach.
type AttachOptions struct {
	DataDir  string
	Launcher Starter
	Logger   *slog.Logger // nil: discard
	// OnEvent, when set, is told of what happens to the data plane
	// ("dataplane.started", "dataplane.restarted", ...), for the event log.
	OnEvent func(kind, msg string)
}

// Attach connects to the data plane serving opts.DataDir, or
// starts one when none answers.
func Attach(ctx context.Context, opts AttachOptions) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{
		client:   NewClient(filepath.Join(opts.DataDir, SocketName)),
		launcher: opts.Launcher,
		log:      log,
		onEvent:  opts.OnEvent,
		dataDir:  opts.DataDir,
		done:     make(chan struct{}),
		changes:  make(chan struct{}),
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	st, err := c.client.Status(sctx)
	cancel()
	if err != nil {
		pid, err := opts.Launcher.Start(ctx, false, nil)
		if err != nil {
			return nil, err
		}
		c.event("dataplane.started", fmt.Sprintf("started the data plane (pid %d)", pid))
		if st, err = c.client.Status(ctx); err != nil {
			return nil, fmt.Errorf("asking the new data plane: %w", err)
		}
	} else {
		c.event("dataplane.attached", fmt.Sprintf("attached to the running data plane (pid %d, config version %d)", st.PID, st.Version))
	}
	c.version, c.pid, c.listeners = st.Version, st.PID, st.Listeners
	c.ctx, c.cancel = context.WithCancel(context.Background())
	first := make(chan struct{})
	go c.watch(first)
	select {
	case <-first:
	case <-time.After(5 * time.Second):
	}
	return c, nil
}

func (c *Conn) event(kind, msg string) {
	c.log.Info(msg)
	if c.onEvent != nil {
		c.onEvent(kind, msg)
	}
}

// watch follows the data plane's target events; when the stream ends it
// finds the data plane again (a successor after a hand-over), or starts
// a new one, and pushes the last configuration if it lacks it.
func (c *Conn) watch(first chan struct{}) {
	defer close(c.done)
	var once sync.Once
	for c.ctx.Err() == nil {
		err := c.client.Events(c.ctx, func(ev TargetsEvent) {
			c.setTargets(ev.Targets)
			once.Do(func() { close(first) })
		})
		if c.ctx.Err() != nil {
			return
		}
		c.log.Debug("data plane event stream ended", "err", err)
		c.client.CloseIdleConnections()
		if err := c.reconnect(); err != nil && c.ctx.Err() == nil {
			c.log.Error("data plane unavailable", "err", err)
			sleep(c.ctx, time.Second)
		}
	}
}

// reconnect finds the data plane after its stream ended, restarting it
// when it is gone, and makes sure it serves the last configuration.
func (c *Conn) reconnect() error {
	var st Status
	var err error
	for range 5 {
		sctx, cancel := context.WithTimeout(c.ctx, time.Second)
		st, err = c.client.Status(sctx)
		cancel()
		if err == nil || gone(err) {
			// The control socket always has a listener, across hand-overs
			// too: refused or missing means no data plane runs.
			break
		}
		sleep(c.ctx, 20*time.Millisecond)
	}
	if err != nil {
		c.pushMu.Lock()
		serr := c.restartLocked(err)
		c.pushMu.Unlock()
		if serr != nil {
			return serr
		}
		if st, err = c.client.Status(c.ctx); err != nil {
			return err
		}
	}
	c.mu.Lock()
	moved := st.PID != c.pid
	c.pid = st.PID
	c.mu.Unlock()
	if moved {
		c.log.Info("data plane changed", "pid", st.PID, "version", st.Version)
	}
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	if c.last == nil || st.Version == c.version {
		return nil
	}
	_, err = c.pushLocked(c.ctx, *c.last)
	return err
}

// restartLocked starts a new data plane on the held copies of the
// listening sockets, the last one having failed with cause, unless one
// answers by now (a push or the watch restarted it first). Both call it:
// a push that finds no data plane must not wait for the watch, which
// needs pushMu to restart it. Called with pushMu held.
func (c *Conn) restartLocked(cause error) error {
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("not restarting the data plane: %w", err)
	}
	sctx, cancel := context.WithTimeout(c.ctx, time.Second)
	_, err := c.client.Status(sctx)
	cancel()
	if err == nil {
		return nil
	}
	pid, err := c.launcher.Start(c.ctx, false, c.held)
	if err != nil {
		return fmt.Errorf("the data plane is gone (%v) and could not be restarted: %w", cause, err)
	}
	c.event("dataplane.restarted", fmt.Sprintf("the data plane exited unexpectedly; started a new one (pid %d)", pid))
	return nil
}

// gone reports whether err says that nothing listens on the socket.
func gone(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Conn) setTargets(ts []proxy.TargetState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.targets = ts
	close(c.changes)
	c.changes = make(chan struct{})
}

// Apply pushes cfg to the data plane and returns once it serves it.
// While the data plane is away (restarting, handing over) the push is
// retried for up to 30 seconds; a refused configuration is an error and
// changes nothing there.
func (c *Conn) Apply(ctx context.Context, cfg proxy.Config) error {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.pushLocked(ctx, cfg)
	return err
}

func (c *Conn) pushLocked(ctx context.Context, cfg proxy.Config) (Ack, error) {
	var restarted time.Time // the last restart this push tried
	for {
		ack, err := c.client.Push(ctx, Push{Version: c.version + 1, Config: cfg})
		switch {
		case err == nil:
			c.version, c.last = ack.Version, &cfg
			c.mu.Lock()
			c.listeners = ack.Listeners
			c.mu.Unlock()
			addrs := make([]string, len(cfg.Listeners))
			for i, l := range cfg.Listeners {
				addrs[i] = l.Address
			}
			c.keepSockets(ctx, addrs)
			return ack, nil
		case errors.Is(err, errStale):
			c.version = ack.Version // another push got there first; go past it
			continue
		case !errors.Is(err, errUnavailable):
			return ack, err
		case gone(err) && time.Since(restarted) >= time.Second:
			// Nothing listens: the data plane died. Start its successor
			// here (at most once a second); it serves the configuration
			// it kept, and the push goes on to it.
			restarted = time.Now()
			c.client.CloseIdleConnections()
			rerr := c.restartLocked(err)
			if rerr == nil {
				continue
			}
			c.log.Error("data plane unavailable", "err", rerr)
		}
		c.client.CloseIdleConnections()
		select {
		case <-ctx.Done():
			return ack, fmt.Errorf("pushing to the data plane: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Targets returns the target states last streamed by the data plane.
func (c *Conn) Targets() []proxy.TargetState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.targets)
}

// Changed returns a channel closed at the next targets event.
func (c *Conn) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changes
}

// Drained returns a channel closed once the target has drained in the
// data plane (and in any predecessor still draining).
func (c *Conn) Drained(group, target string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for c.ctx.Err() == nil {
			if c.client.WaitDrained(c.ctx, group, target) == nil {
				return
			}
			sleep(c.ctx, 100*time.Millisecond)
		}
	}()
	return ch
}

// Addr returns a listener's bound address, nil if there is none.
func (c *Conn) Addr(listener string) net.Addr {
	c.mu.Lock()
	a := c.listeners[listener]
	c.mu.Unlock()
	if a == "" {
		return nil
	}
	addr, err := net.ResolveTCPAddr("tcp", a)
	if err != nil {
		return nil
	}
	return addr
}

// Window returns a target group's request stats over the last d; zero
// stats when the data plane does not answer.
func (c *Conn) Window(group string, d time.Duration) metrics.WindowStats {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	ws, err := c.client.Window(ctx, group, "", d)
	if err != nil {
		c.log.Warn("reading request stats from the data plane", "group", group, "err", err)
	}
	return ws
}

// Client returns the client of the data plane's socket.
func (c *Conn) Client() *Client { return c.client }

// PID returns the pid of the data plane last seen.
func (c *Conn) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pid
}

// Upgrade replaces the data plane with a new process of the launcher's
// binary, hitless (see handover.go), and returns both pids.
func (c *Conn) Upgrade(ctx context.Context) (oldPID, newPID int, err error) {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	st, err := c.client.Status(sctx)
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("asking the running data plane: %w", err)
	}
	newPID, err = c.launcher.Start(ctx, true, nil)
	if err != nil {
		return st.PID, 0, fmt.Errorf("starting the new data plane: %w", err)
	}
	c.event("dataplane.upgraded", fmt.Sprintf("data plane pid %d took over from pid %d", newPID, st.PID))
	return st.PID, newPID, nil
}

// Stop stops the data plane: it drains its connections and exits. Stop
// returns once the process has exited.
func (c *Conn) Stop(ctx context.Context) error {
	c.cancel()
	<-c.done
	c.dropSockets() // else the sockets would stay open with nobody accepting
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := c.client.Status(sctx)
	cancel()
	if err != nil {
		st = Status{PID: c.PID()}
	}
	if err := c.client.Stop(ctx); err != nil && st.PID != 0 && st.PID != os.Getpid() {
		// It drains and exits on SIGTERM too.
		c.log.Warn("asking the data plane to stop failed; sending it SIGTERM", "pid", st.PID, "err", err)
		syscall.Kill(st.PID, syscall.SIGTERM)
	}
	// A predecessor still draining after a hand-over ends by itself, at
	// its drain limit; wait for it too.
	for _, pid := range []int{st.PID, st.Predecessor} {
		for pid != 0 && pid != os.Getpid() && running(pid) { // in-process data planes end with their Run
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for the data plane (pid %d) to exit: %w", pid, ctx.Err())
			}
			sleep(ctx, 10*time.Millisecond)
		}
	}
	return nil
}

// running reports whether pid runs: it exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// Close detaches from the data plane, which keeps serving.
func (c *Conn) Close() error {
	c.cancel()
	<-c.done
	c.dropSockets()
	c.client.CloseIdleConnections()
	return nil
}

func (c *Conn) dropSockets() {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	closeAll(slices.Collect(maps.Values(c.held)))
	c.held = nil
}
