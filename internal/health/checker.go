package health

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// probeFunc performs one check of target and returns the response's status
// code. It must return soon after ctx is done.
type probeFunc func(ctx context.Context, target string) (code int, err error)

// Checker runs the active health checks of one target group: every added
// target is checked every Interval (±10% jitter) until it is removed, and
// its status moves between initial, healthy and unhealthy by the
// thresholds.
type Checker struct {
	cfg      Config
	matcher  Matcher
	onChange func(Result)
	probe    probeFunc

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	targets map[string]*target
	// stopping holds, per address, the done channel of the last removed
	// target whose goroutine may still be running. A target added again
	// waits for it, so onChange calls for one address never overlap.
	stopping map[string]chan struct{}
}

// target is one added address. Its fields other than cancel and done are
// guarded by Checker.mu.
type target struct {
	cancel context.CancelFunc // stops this target's goroutine
	done   chan struct{}      // closed when that goroutine has returned

	result   Result
	passes   int // consecutive passed checks
	failures int // consecutive failed checks
}

// NewChecker returns a Checker for cfg, which should have passed Validate;
// zero fields take their defaults. onChange, if not nil, is called on every
// status change of a target (initial to healthy or unhealthy, healthy to
// unhealthy, unhealthy to healthy), from the target's own goroutine: calls
// for one target arrive in order and never overlap, also across Remove and
// Add of the same address. onChange may call Add, Remove, Status and
// Targets; it must not call Close, nor block on anything a caller of Close
// is holding (Close waits for it). Add and Remove never wait for onChange,
// so they may be called while holding a lock that onChange takes.
func NewChecker(cfg Config, onChange func(Result)) *Checker {
	cfg = cfg.WithDefaults()
	return newChecker(cfg, onChange, probeFor(cfg))
}

func newChecker(cfg Config, onChange func(Result), probe probeFunc) *Checker {
	cfg = cfg.WithDefaults()
	matcher, _ := cfg.parseMatcher() // an invalid matcher matches nothing
	ctx, cancel := context.WithCancel(context.Background())
	return &Checker{
		cfg:      cfg,
		matcher:  matcher,
		onChange: onChange,
		probe:    probe,
		ctx:      ctx,
		cancel:   cancel,
		targets:  make(map[string]*target),
		stopping: make(map[string]chan struct{}),
	}
}

// Add starts checking addr (host:port) at once. The target starts initial;
// with checks disabled it is healthy at once. Adding a target that is
// already added, or adding after Close, does nothing.
func (c *Checker) Add(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.targets[addr] != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	t := &target{
		cancel: cancel,
		done:   make(chan struct{}),
		result: Result{Target: addr, Status: StatusInitial, Reason: ReasonInitialHealthChecking, At: time.Now()},
	}
	if c.cfg.Disabled {
		t.result.Status = StatusHealthy
		t.result.Reason = ReasonHealthCheckDisabled
	}
	c.targets[addr] = t
	prev := c.stopping[addr]
	delete(c.stopping, addr) // t waits for prev before its done is closed
	c.wg.Go(func() { c.run(ctx, addr, t, prev) })
}

// Remove stops checking addr and forgets it; a check in flight is
// cancelled. Remove does not wait for the target's goroutine, so an
// onChange call for a status change that happened before Remove may still
// be under way when it returns.
func (c *Checker) Remove(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.targets[addr]
	if t == nil {
		return
	}
	delete(c.targets, addr)
	t.cancel()
	c.stopping[addr] = t.done
}

// Status returns addr's status, and false if addr is not added.
func (c *Checker) Status(addr string) (Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.targets[addr]
	if t == nil {
		return StatusInitial, false
	}
	return t.result.Status, true
}

// Targets returns the latest Result of every added target, sorted by
// address.
func (c *Checker) Targets() []Result {
	c.mu.Lock()
	results := make([]Result, 0, len(c.targets))
	for _, t := range c.targets {
		results = append(results, t.result)
	}
	c.mu.Unlock()
	slices.SortFunc(results, func(a, b Result) int { return strings.Compare(a.Target, b.Target) })
	return results
}

// Close stops every check, cancels those in flight and waits until all
// goroutines, including onChange calls, have returned.
func (c *Checker) Close() {
	c.mu.Lock()
	c.closed = true
	c.cancel()
	c.mu.Unlock()
	c.wg.Wait()
}

// run is the goroutine of one target: it checks at once, then on a
// jittered schedule anchored at each check's start, so a slow check does
// not push the next one back.
func (c *Checker) run(ctx context.Context, addr string, t *target, prev <-chan struct{}) {
	defer func() {
		if prev != nil {
			<-prev
		}
		c.mu.Lock()
		if c.stopping[addr] == t.done {
			delete(c.stopping, addr)
		}
		c.mu.Unlock()
		close(t.done)
	}()
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return
		}
	}

	if c.cfg.Disabled {
		c.mu.Lock()
		r, removed := t.result, ctx.Err() != nil
		c.mu.Unlock()
		if !removed {
			c.notify(r)
		}
		return
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		o := c.check(ctx, addr)
		c.record(ctx, t, o)

		// With jitter, a check that ran close to Timeout may end after
		// the next start was due; that start is skipped.
		next := start.Add(c.jitteredInterval())
		for now := time.Now(); !next.After(now); {
			next = next.Add(c.jitteredInterval())
		}
		timer.Reset(time.Until(next))
	}
}

// outcome is the result of one check; reason is empty if it passed.
type outcome struct {
	code   int
	err    error
	reason string
	at     time.Time
}

// check runs one check of addr, bounded by Timeout.
func (c *Checker) check(ctx context.Context, addr string) outcome {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	code, err := c.probe(ctx, addr)
	o := outcome{code: code, at: time.Now()}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// Also when the probe returned a code, but too late.
		o.reason = ReasonTimeout
		o.err = fmt.Errorf("health check of %s: no response within %s: %w", addr, c.cfg.Timeout, context.DeadlineExceeded)
	case err != nil:
		o.reason = ReasonFailedHealthChecks
		o.err = fmt.Errorf("health check of %s: %w", addr, err)
	case !c.matcher.Match(code):
		o.reason = ReasonResponseCodeMismatch
		what := "response code"
		if SpeaksGRPC(c.cfg.Protocol) {
			what = "gRPC status"
		}
		o.err = fmt.Errorf("health check of %s: %s %d does not match %q", addr, what, code, c.cfg.Matcher)
	}
	return o
}

// record applies o to t and reports a status change, unless t was removed
// or the Checker closed meanwhile (ctx is done).
func (c *Checker) record(ctx context.Context, t *target, o outcome) {
	c.mu.Lock()
	if ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	changed := t.observe(o, c.cfg.HealthyThreshold, c.cfg.UnhealthyThreshold)
	r := t.result
	c.mu.Unlock()
	if changed {
		c.notify(r)
	}
}

// observe counts o towards the thresholds and reports whether the status
// changed. HealthyThreshold passes are needed from initial too.
func (t *target) observe(o outcome, healthyThreshold, unhealthyThreshold int) bool {
	r := &t.result
	r.Code, r.Err, r.At = o.code, o.err, o.at
	if o.reason == "" {
		t.passes++
		t.failures = 0
		if r.Status != StatusHealthy && t.passes >= healthyThreshold {
			r.Status, r.Reason = StatusHealthy, ""
			return true
		}
		return false
	}
	t.failures++
	t.passes = 0
	switch {
	case r.Status == StatusUnhealthy:
		r.Reason = o.reason // the latest failure explains the status
		return false
	case t.failures >= unhealthyThreshold:
		r.Status, r.Reason = StatusUnhealthy, o.reason
		return true
	}
	return false
}

func (c *Checker) notify(r Result) {
	if c.onChange != nil {
		c.onChange(r)
	}
}

// jitteredInterval is Interval moved by a random amount of up to ±10%,
// so the checks of many targets spread out instead of arriving together.
func (c *Checker) jitteredInterval() time.Duration {
	d := c.cfg.Interval
	j := d / 10
	if j <= 0 {
		return d
	}
	return d - j + rand.N(2*j+1)
}
