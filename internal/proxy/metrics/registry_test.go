package metrics

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestForgetTarget(t *testing.T) {
	r := NewRegistryWithClock(newFakeClock().Now)
	for _, o := range []Observation{
		{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 500, Duration: time.Millisecond},
		{Listener: "test", TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Millisecond},
		{Listener: "production", TargetGroup: "web", Target: "b:80", Status: 200, Duration: time.Millisecond},
		{Listener: "production", TargetGroup: "api", Target: "a:80", Status: 200, Duration: time.Millisecond},
	} {
		r.Observe(o)
	}
	done := r.Start("production", "web", "a:80")

	r.ForgetTarget("web", "a:80")

	out := writeProm(t, r)
	_, samples := parseProm(t, out)
	for _, s := range samples {
		if s.labels["target_group"] == "web" && s.labels["target"] == "a:80" {
			t.Errorf("forgotten target still written: %s%v", s.name, s.labels)
		}
	}
	if got := value(t, samples, "cutover_requests_total", "listener", "production", "target_group", "api", "target", "a:80", "code_class", "2xx"); got != 1 {
		t.Errorf("same target in another group: requests = %v, want 1", got)
	}
	if got := r.TargetWindow("web", "a:80", time.Minute); got != (WindowStats{}) {
		t.Errorf("TargetWindow of forgotten target = %+v, want zero", got)
	}
	if got := r.TargetWindow("web", "b:80", time.Minute); got.Requests != 1 {
		t.Errorf("TargetWindow of other target = %+v, want 1 request", got)
	}
	if got := r.Window("web", time.Minute); got.Requests != 3 || got.Errors != 1 {
		t.Errorf("group Window = %+v, want the forgotten target's 3 requests and 1 error kept", got)
	}
	if got := value(t, samples, "cutover_request_duration_seconds_count", "listener", "production", "target_group", "web"); got != 2 {
		t.Errorf("group histogram count = %v, want 2", got)
	}
	if n := len(r.targets.snapshot()); n != 2 {
		t.Errorf("%d target series left, want 2", n)
	}
	if n := len(r.targetWindows.snapshot()); n != 2 {
		t.Errorf("%d target windows left, want 2", n)
	}

	done() // finishing a request of a forgotten target is harmless
	r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Millisecond})
	if got := r.TargetWindow("web", "a:80", time.Minute); got.Requests != 1 || got.Errors != 0 {
		t.Errorf("TargetWindow of a returning target = %+v, want a fresh start with 1 request", got)
	}
}

func TestForgetGroup(t *testing.T) {
	r := NewRegistryWithClock(newFakeClock().Now)
	r.Observe(Observation{Listener: "production", TargetGroup: "blue", Target: "a:80", Status: 200})
	r.Observe(Observation{Listener: "production", TargetGroup: "green", Target: "b:80", Status: 200})

	r.ForgetGroup("blue")

	out := writeProm(t, r)
	if strings.Contains(out, `"blue"`) {
		t.Errorf("forgotten group still written:\n%s", out)
	}
	if !strings.Contains(out, `"green"`) {
		t.Errorf("other group missing:\n%s", out)
	}
	if got := r.Window("blue", time.Minute); got != (WindowStats{}) {
		t.Errorf("Window of forgotten group = %+v, want zero", got)
	}
	if got := r.Window("green", time.Minute); got.Requests != 1 {
		t.Errorf("Window of other group = %+v, want 1 request", got)
	}
}

// TestConcurrentObserve hammers one registry from many goroutines while
// others scrape and query it; run it with -race. The totals must come out
// exact.
func TestConcurrentObserve(t *testing.T) {
	const (
		workers   = 16
		perWorker = 2000
	)
	clock := newFakeClock()
	r := NewRegistryWithClock(clock.Now)
	listeners := []string{"production", "test"}
	targets := []string{"a:80", "b:80", "c:80"}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var buf bytes.Buffer
			if err := r.WritePrometheus(&buf); err != nil {
				t.Errorf("WritePrometheus: %v", err)
				return
			}
			r.Window("web", time.Minute)
			r.TargetWindow("web", "a:80", time.Minute)
		}
	})
	readers.Go(func() {
		// Move to new slots under load, 5 minutes at most so that the
		// whole run stays inside the longest window.
		for range 3000 {
			select {
			case <-stop:
				return
			default:
			}
			clock.Advance(time.Second / 10)
		}
	})

	var writers sync.WaitGroup
	for w := range workers {
		writers.Go(func() {
			for i := range perWorker {
				target := targets[(w+i)%len(targets)]
				listener := listeners[i%len(listeners)]
				done := r.Start(listener, "web", target)
				status := 200
				if i%10 == 0 {
					status = 503
				}
				r.Observe(Observation{
					Listener: listener, TargetGroup: "web", Target: target,
					Status: status, ProxyError: status == 503,
					Duration: time.Duration(i%50+1) * time.Millisecond,
					BytesIn:  1, BytesOut: 2,
				})
				done()
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()

	total := float64(workers * perWorker)
	_, samples := parseProm(t, writeProm(t, r))
	var requests, errors, inFlight, count, bytesIn, bytesOut, proxyErrors float64
	for _, s := range samples {
		switch s.name {
		case "cutover_requests_total":
			requests += s.value
			if s.labels["code_class"] == "5xx" {
				errors += s.value
			}
		case "cutover_requests_in_flight":
			inFlight += s.value
		case "cutover_request_duration_seconds_count":
			count += s.value
		case "cutover_request_bytes_total":
			bytesIn += s.value
		case "cutover_response_bytes_total":
			bytesOut += s.value
		case "cutover_proxy_errors_total":
			proxyErrors += s.value
		}
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"requests", requests, total},
		{"5xx", errors, total / 10},
		{"in flight", inFlight, 0},
		{"histogram count", count, total},
		{"request bytes", bytesIn, total},
		{"response bytes", bytesOut, 2 * total},
		{"proxy errors", proxyErrors, total / 10},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	checkHistograms(t, samples)

	got := r.Window("web", 10*time.Minute)
	if got.Requests != int64(total) || got.Errors != int64(total/10) {
		t.Errorf("Window = %+v, want %v requests and %v errors", got, total, total/10)
	}
	var perTarget int64
	for _, target := range targets {
		perTarget += r.TargetWindow("web", target, 10*time.Minute).Requests
	}
	if perTarget != int64(total) {
		t.Errorf("TargetWindow requests add up to %d, want %v", perTarget, total)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	r := NewRegistry()
	o := Observation{Listener: "production", TargetGroup: "web", Target: "10.0.0.1:8080", Status: 200, Duration: 12 * time.Millisecond, BytesIn: 100, BytesOut: 2000}
	r.Observe(o) // creates the series and this second's slot

	if n := testing.AllocsPerRun(1000, func() { r.Observe(o) }); n != 0 {
		t.Errorf("Observe allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Start("production", "web", "10.0.0.1:8080")() }); n != 0 {
		t.Errorf("Start allocates %v times per call, want 0", n)
	}
}
