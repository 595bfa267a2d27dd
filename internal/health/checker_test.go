package health

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// These tests replace the HTTP probe with a scripted one and run inside a
// synctest bubble, so the Checker's schedule runs on a fake clock.

// step is one scripted check: a status code, an error, or a probe that
// takes delay (honouring its context) before answering.
type step struct {
	code  int
	err   error
	delay time.Duration
}

var (
	pass = step{code: 200}
	fail = step{code: 503}
	hang = step{code: 200, delay: time.Hour}
)

// fakeProbe answers checks from a script and records when each started and
// ended. After the script it repeats the last step.
type fakeProbe struct {
	mu     sync.Mutex
	script []step
	starts []time.Time
	ends   []time.Time
	errs   []error // the probe's own return value, e.g. context.Canceled
}

func (p *fakeProbe) probe(ctx context.Context, target string) (int, error) {
	p.mu.Lock()
	n := len(p.starts)
	p.starts = append(p.starts, time.Now())
	s := p.script[min(n, len(p.script)-1)]
	p.mu.Unlock()

	code, err := s.code, s.err
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			code, err = 0, ctx.Err()
		}
	}
	p.mu.Lock()
	p.ends = append(p.ends, time.Now())
	p.errs = append(p.errs, err)
	p.mu.Unlock()
	return code, err
}

func (p *fakeProbe) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.starts)
}

func (p *fakeProbe) startTimes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.starts)
}

// recorder collects onChange calls. It also reads the Checker from inside
// the callback, which deadlocks if onChange runs under the Checker's lock.
type recorder struct {
	t       *testing.T
	checker *Checker
	mu      sync.Mutex
	changes []Result
}

func (r *recorder) onChange(res Result) {
	if st, ok := r.checker.Status(res.Target); ok && st != res.Status {
		r.t.Errorf("in onChange(%s), Status() = %s", res.Status, st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, res)
}

func (r *recorder) statuses() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []Status
	for _, res := range r.changes {
		s = append(s, res.Status)
	}
	return s
}

const (
	testInterval = 10 * time.Second
	testTimeout  = 2 * time.Second
	addr1        = "10.0.0.1:8080"
)

// newTestChecker returns a Checker with interval 10s, timeout 2s and the
// given thresholds, checking through a fakeProbe running script. It must be
// called inside a bubble; the Checker is closed when the bubble's test
// ends.
func newTestChecker(t *testing.T, healthy, unhealthy int, script ...step) (*Checker, *fakeProbe, *recorder) {
	t.Helper()
	p := &fakeProbe{script: script}
	rec := &recorder{t: t}
	cfg := Config{Interval: testInterval, Timeout: testTimeout, HealthyThreshold: healthy, UnhealthyThreshold: unhealthy}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := newChecker(cfg, rec.onChange, p.probe)
	rec.checker = c
	t.Cleanup(c.Close)
	return c, p, rec
}

// waitChecks advances the fake clock until the probe has been called n
// times and the Checker has recorded the n-th check.
func waitChecks(t *testing.T, c *Checker, p *fakeProbe, n int) {
	t.Helper()
	synctest.Wait()
	for p.calls() < n {
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
	}
	if got := p.calls(); got != n {
		t.Fatalf("probe called %d times, want %d", got, n)
	}
	// The n-th check may still be running (a hanging probe); let it end.
	for {
		p.mu.Lock()
		ended := len(p.ends) >= n
		p.mu.Unlock()
		if ended {
			break
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
	}
}

func status(t *testing.T, c *Checker) Status {
	t.Helper()
	st, ok := c.Status(addr1)
	if !ok {
		t.Fatalf("Status(%s): not added", addr1)
	}
	return st
}

func TestCheckerThresholds(t *testing.T) {
	const (
		I = StatusInitial
		H = StatusHealthy
		U = StatusUnhealthy
	)
	tests := []struct {
		name             string
		healthy          int
		unhealthy        int
		script           []step
		want             []Status // status after each check
		wantTransitioned []Status // what onChange reported
	}{
		{
			name:    "initial to healthy after exactly healthy_threshold passes",
			healthy: 3, unhealthy: 2,
			script:           []step{pass, pass, pass},
			want:             []Status{I, I, H},
			wantTransitioned: []Status{H},
		},
		{
			name:    "initial to unhealthy after exactly unhealthy_threshold failures",
			healthy: 2, unhealthy: 3,
			script:           []step{fail, fail, fail},
			want:             []Status{I, I, U},
			wantTransitioned: []Status{U},
		},
		{
			name:    "a failure restarts the count of passes",
			healthy: 3, unhealthy: 2,
			script:           []step{pass, pass, fail, pass, pass, pass},
			want:             []Status{I, I, I, I, I, H},
			wantTransitioned: []Status{H},
		},
		{
			name:    "healthy to unhealthy after exactly unhealthy_threshold failures",
			healthy: 2, unhealthy: 3,
			script:           []step{pass, pass, fail, fail, fail},
			want:             []Status{I, H, H, H, U},
			wantTransitioned: []Status{H, U},
		},
		{
			name:    "single failures do not flip a healthy target",
			healthy: 2, unhealthy: 2,
			script:           []step{pass, pass, fail, pass, fail, pass, fail, pass},
			want:             []Status{I, H, H, H, H, H, H, H},
			wantTransitioned: []Status{H},
		},
		{
			name:    "unhealthy to healthy after exactly healthy_threshold passes",
			healthy: 4, unhealthy: 2,
			script:           []step{fail, fail, pass, pass, pass, pass},
			want:             []Status{I, U, U, U, U, H},
			wantTransitioned: []Status{U, H},
		},
		{
			name:    "single passes do not flip an unhealthy target",
			healthy: 2, unhealthy: 2,
			script:           []step{fail, fail, pass, fail, pass, fail},
			want:             []Status{I, U, U, U, U, U},
			wantTransitioned: []Status{U},
		},
		{
			name:    "timeouts and connection errors are failures",
			healthy: 2, unhealthy: 2,
			script:           []step{pass, pass, hang, {err: errors.New("connection refused")}, pass, pass},
			want:             []Status{I, H, H, U, U, H},
			wantTransitioned: []Status{H, U, H},
		},
		{
			name:    "maximum thresholds",
			healthy: 10, unhealthy: 10,
			script:           []step{pass, pass, pass, pass, pass, pass, pass, pass, pass, pass, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail},
			want:             []Status{I, I, I, I, I, I, I, I, I, H, H, H, H, H, H, H, H, H, H, U},
			wantTransitioned: []Status{H, U},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, p, rec := newTestChecker(t, tt.healthy, tt.unhealthy, tt.script...)
				c.Add(addr1)
				if got := status(t, c); got != StatusInitial {
					t.Fatalf("after Add: status %s, want initial", got)
				}
				for i, want := range tt.want {
					waitChecks(t, c, p, i+1)
					if got := status(t, c); got != want {
						t.Fatalf("after check %d: status %s, want %s", i+1, got, want)
					}
				}
				if got := rec.statuses(); !slices.Equal(got, tt.wantTransitioned) {
					t.Errorf("onChange reported %v, want %v", got, tt.wantTransitioned)
				}
			})
		})
	}
}

func TestCheckerResults(t *testing.T) {
	tests := []struct {
		name       string
		step       step
		wantReason string
		wantCode   int
		wantErr    error // errors.Is target; nil means "some error"
	}{
		{"code mismatch", step{code: 500}, ReasonResponseCodeMismatch, 500, nil},
		{"connection error", step{err: errors.New("connection refused")}, ReasonFailedHealthChecks, 0, nil},
		{"timeout", hang, ReasonTimeout, 0, context.DeadlineExceeded},
		{"answer after timeout", step{code: 200, delay: testTimeout + time.Second}, ReasonTimeout, 0, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, p, rec := newTestChecker(t, 2, 2, tt.step)
				c.Add(addr1)

				waitChecks(t, c, p, 1)
				r := c.Targets()[0]
				if r.Status != StatusInitial || r.Reason != ReasonInitialHealthChecking {
					t.Errorf("after one failure: %s %q, want initial %q", r.Status, r.Reason, ReasonInitialHealthChecking)
				}

				waitChecks(t, c, p, 2)
				r = c.Targets()[0]
				if r.Status != StatusUnhealthy || r.Reason != tt.wantReason || r.Code != tt.wantCode {
					t.Errorf("after two failures: %s %q code %d, want unhealthy %q code %d", r.Status, r.Reason, r.Code, tt.wantReason, tt.wantCode)
				}
				if r.Err == nil || (tt.wantErr != nil && !errors.Is(r.Err, tt.wantErr)) {
					t.Errorf("Err = %v, want %v", r.Err, tt.wantErr)
				}
				if len(rec.changes) != 1 || rec.changes[0].Reason != tt.wantReason || rec.changes[0].Target != addr1 {
					t.Errorf("onChange got %+v, want one change with reason %q", rec.changes, tt.wantReason)
				}
			})
		})
	}
}

func TestCheckerTimeoutCancelsTheCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, _ := newTestChecker(t, 2, 2, hang)
		c.Add(addr1)
		waitChecks(t, c, p, 1)
		if got := p.ends[0].Sub(p.starts[0]); got != testTimeout {
			t.Errorf("hanging check ended after %s, want the timeout %s", got, testTimeout)
		}
		if !errors.Is(p.errs[0], context.DeadlineExceeded) {
			t.Errorf("probe context ended with %v, want deadline exceeded", p.errs[0])
		}
	})
}

func TestCheckerSchedule(t *testing.T) {
	tests := []struct {
		name string
		step step
	}{
		{"fast checks", pass},
		// A check that takes most of the timeout must not push the next
		// one back.
		{"slow checks", step{code: 200, delay: testTimeout - time.Millisecond}},
		{"timeouts", hang},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, p, _ := newTestChecker(t, 2, 2, tt.step)
				added := time.Now()
				c.Add(addr1)
				const n = 30
				waitChecks(t, c, p, n)

				starts := p.startTimes()
				if starts[0] != added {
					t.Errorf("first check %s after Add, want at once", starts[0].Sub(added))
				}
				gaps := make(map[time.Duration]bool)
				for i := 1; i < n; i++ {
					gap := starts[i].Sub(starts[i-1])
					if gap < testInterval*9/10 || gap > testInterval*11/10 {
						t.Errorf("check %d started %s after the previous one, want %s ±10%%", i+1, gap, testInterval)
					}
					gaps[gap] = true
				}
				if len(gaps) < 2 {
					t.Errorf("all %d gaps between checks are %v; want jitter", n-1, gaps)
				}
			})
		})
	}
}

func TestCheckerKeepsCheckingHealthyTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, rec := newTestChecker(t, 2, 2, pass)
		c.Add(addr1)
		waitChecks(t, c, p, 2)
		if status(t, c) != StatusHealthy {
			t.Fatal("target not healthy after 2 passes")
		}
		time.Sleep(10 * testInterval)
		synctest.Wait()
		if got := p.calls(); got < 10 {
			t.Errorf("%d checks in 11 intervals, want checks to go on while healthy", got)
		}
		if got := rec.statuses(); !slices.Equal(got, []Status{StatusHealthy}) {
			t.Errorf("onChange reported %v, want [healthy]", got)
		}
	})
}

func TestCheckerAddIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, _ := newTestChecker(t, 2, 2, pass)
		c.Add(addr1)
		c.Add(addr1)
		time.Sleep(testInterval / 2)
		c.Add(addr1)
		time.Sleep(testInterval * 5)
		synctest.Wait()
		// One check at once, then one per interval of 9-11s.
		if got := p.calls(); got < 5 || got > 6 {
			t.Errorf("%d checks in 5.5 intervals, want one per interval for the single target", got)
		}
		if got := len(c.Targets()); got != 1 {
			t.Errorf("Targets() has %d entries, want 1", got)
		}
	})
}

func TestCheckerRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, rec := newTestChecker(t, 2, 2, hang)
		c.Add(addr1)
		c.Add("10.0.0.2:8080")
		synctest.Wait() // both first checks are in flight

		removedAt := time.Now()
		c.Remove(addr1)
		synctest.Wait()
		if _, ok := c.Status(addr1); ok {
			t.Error("Status reports a removed target")
		}
		if got := len(c.Targets()); got != 1 {
			t.Errorf("Targets() has %d entries after Remove, want 1", got)
		}
		p.mu.Lock()
		if len(p.errs) != 1 || !errors.Is(p.errs[0], context.Canceled) || p.ends[0] != removedAt {
			t.Errorf("after Remove, ended checks %v at %v, want one cancelled at once", p.errs, p.ends)
		}
		p.mu.Unlock()

		time.Sleep(testInterval * 5)
		synctest.Wait()
		// Only the other target goes on: one check at once, then about
		// one per interval.
		if got := p.calls(); got < 1+5 || got > 2+6 {
			t.Errorf("%d checks in 5 intervals after removing one of two targets, want 6-8", got)
		}
		if len(rec.changes) != 1 || rec.changes[0].Target == addr1 {
			t.Errorf("onChange got %+v, want only the other target becoming unhealthy", rec.changes)
		}
	})
}

func TestCheckerAddAfterRemoveStartsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, rec := newTestChecker(t, 2, 2, pass)
		c.Add(addr1)
		waitChecks(t, c, p, 2)
		c.Remove(addr1)
		added := time.Now()
		c.Add(addr1)
		if got := status(t, c); got != StatusInitial {
			t.Fatalf("re-added target is %s, want initial", got)
		}
		waitChecks(t, c, p, 3)
		if got := p.startTimes()[2]; got != added {
			t.Errorf("re-added target checked %s after Add, want at once", got.Sub(added))
		}
		waitChecks(t, c, p, 4)
		if got := rec.statuses(); !slices.Equal(got, []Status{StatusHealthy, StatusHealthy}) {
			t.Errorf("onChange reported %v, want [healthy healthy]", got)
		}
	})
}

func TestCheckerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, p, _ := newTestChecker(t, 2, 2, pass, hang)
		for _, addr := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
			c.Add(addr)
		}
		synctest.Wait()
		time.Sleep(testInterval * 11 / 10) // second checks are hanging
		synctest.Wait()
		c.Close()
		calls := p.calls()
		c.Add("10.0.0.4:80")
		time.Sleep(10 * testInterval)
		synctest.Wait()
		if got := p.calls(); got != calls {
			t.Errorf("%d checks after Close, want none", got-calls)
		}
		// synctest.Test also fails if Close left a goroutine running.
	})
}

func TestCheckerDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProbe{script: []step{fail}}
		rec := &recorder{t: t}
		c := newChecker(Config{Disabled: true}, rec.onChange, p.probe)
		rec.checker = c
		defer c.Close()

		c.Add(addr1)
		if got := status(t, c); got != StatusHealthy {
			t.Fatalf("with checks disabled, Add gave %s, want healthy", got)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := p.calls(); got != 0 {
			t.Errorf("%d checks with checks disabled, want 0", got)
		}
		if len(rec.changes) != 1 || rec.changes[0].Status != StatusHealthy || rec.changes[0].Reason != ReasonHealthCheckDisabled {
			t.Errorf("onChange got %+v, want one healthy with %q", rec.changes, ReasonHealthCheckDisabled)
		}
	})
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{StatusInitial: "initial", StatusHealthy: "healthy", StatusUnhealthy: "unhealthy", 7: "Status(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestCheckerReAddWaitsForOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProbe{script: []step{pass}}
		release := make(chan struct{})
		var mu sync.Mutex
		var calls, inFlight int
		onChange := func(r Result) {
			mu.Lock()
			calls++
			inFlight++
			first := calls == 1
			mu.Unlock()
			if first {
				<-release
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
		}
		c := newChecker(Config{Interval: testInterval, Timeout: testTimeout, HealthyThreshold: 2}, onChange, p.probe)
		defer c.Close()

		c.Add(addr1)
		waitChecks(t, c, p, 2) // healthy; onChange is blocked
		c.Remove(addr1)
		c.Add(addr1) // must not block on the onChange under way
		time.Sleep(3 * testInterval)
		synctest.Wait()
		if got := p.calls(); got != 2 {
			t.Errorf("re-added target checked %d times while the old onChange ran, want 0", got-2)
		}

		close(release)
		waitChecks(t, c, p, 4)
		mu.Lock()
		defer mu.Unlock()
		if calls != 2 || inFlight != 0 {
			t.Errorf("onChange called %d times (%d in flight), want 2 in turn", calls, inFlight)
		}
	})
}
