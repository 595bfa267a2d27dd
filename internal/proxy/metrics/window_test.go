package metrics

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestWindowExpiry(t *testing.T) {
	type batch struct {
		at time.Duration // since the start of the test
		n  int
	}
	type query struct {
		d    time.Duration
		want int64
	}
	tests := []struct {
		name    string
		batches []batch
		now     time.Duration // when the queries run
		queries []query
	}{
		{
			name:    "same second",
			batches: []batch{{0, 7}},
			now:     0,
			queries: []query{{time.Second, 7}, {time.Minute, 7}, {10 * time.Minute, 7}},
		},
		{
			name:    "older batch drops out of a short window",
			batches: []batch{{0, 10}, {30 * time.Second, 5}},
			now:     30 * time.Second,
			queries: []query{
				{time.Second, 5},
				{29 * time.Second, 5},
				{30 * time.Second, 5},  // the first batch is 30s old: not counted
				{31 * time.Second, 15}, // now it is inside
				{time.Minute, 15},
			},
		},
		{
			name:    "nothing left after the window passes",
			batches: []batch{{0, 3}, {time.Minute, 4}},
			now:     5 * time.Minute,
			queries: []query{{time.Minute, 0}, {4 * time.Minute, 0}, {4*time.Minute + time.Second, 4}, {10 * time.Minute, 7}},
		},
		{
			name:    "longest window is 10 minutes",
			batches: []batch{{0, 3}, {2 * time.Minute, 4}},
			now:     11 * time.Minute,
			queries: []query{{time.Hour, 4}, {10 * time.Minute, 4}},
		},
		{
			name: "slot reused after exactly 10 minutes",
			// Both batches land in the same slot of the ring; the old
			// one must not leak into the new second.
			batches: []batch{{0, 3}, {10 * time.Minute, 4}},
			now:     10 * time.Minute,
			queries: []query{{time.Second, 4}, {10 * time.Minute, 4}},
		},
		{
			name:    "idle for longer than the ring",
			batches: []batch{{0, 3}},
			now:     25 * time.Minute,
			queries: []query{{10 * time.Minute, 0}},
		},
		{
			name:    "non-positive d counts the current second",
			batches: []batch{{0, 2}, {time.Second, 1}},
			now:     time.Second,
			queries: []query{{0, 1}, {-time.Minute, 1}, {1500 * time.Millisecond, 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.Now()
			r := NewRegistryWithClock(clock.Now)
			for _, b := range tt.batches {
				clock.Advance(start.Add(b.at).Sub(clock.Now()))
				for range b.n {
					r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Millisecond})
				}
			}
			clock.Advance(start.Add(tt.now).Sub(clock.Now()))
			for _, q := range tt.queries {
				if got := r.Window("web", q.d).Requests; got != q.want {
					t.Errorf("Window(web, %v).Requests = %d, want %d", q.d, got, q.want)
				}
				if got := r.TargetWindow("web", "a:80", q.d).Requests; got != q.want {
					t.Errorf("TargetWindow(web, a:80, %v).Requests = %d, want %d", q.d, got, q.want)
				}
			}
		})
	}
}

// TestWindowDefaultClock runs the default clock under synctest, as the
// deployment controller's tests do.
func TestWindowDefaultClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 503, ProxyError: true, Duration: 20 * time.Millisecond})
		time.Sleep(90 * time.Second)
		r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: 20 * time.Millisecond})

		if got := r.Window("web", time.Minute); got.Requests != 1 || got.Errors != 0 {
			t.Errorf("Window(1m) = %+v, want 1 request and no errors", got)
		}
		if got := r.Window("web", 2*time.Minute); got.Requests != 2 || got.Errors != 1 {
			t.Errorf("Window(2m) = %+v, want 2 requests and 1 error", got)
		}
		time.Sleep(10 * time.Minute)
		if got := r.Window("web", 10*time.Minute); got != (WindowStats{}) {
			t.Errorf("Window(10m) after 10 idle minutes = %+v, want zero", got)
		}
	})
}

func TestWindowErrorRate(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int
		wantErrors int64
		wantRate   float64
	}{
		{"no requests", nil, 0, 0},
		{"all fine", []int{200, 201, 204, 301, 304}, 0, 0},
		{"client errors are not errors", []int{400, 404, 404, 429}, 0, 0},
		{"target and proxy 5xx", []int{200, 500, 502, 503, 504, 200, 200, 200}, 4, 0.5},
		{"invalid status counts as error", []int{200, 0, 200, 600}, 2, 0.5},
		{"websocket upgrade", []int{101, 101, 500, 200}, 1, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistryWithClock(newFakeClock().Now)
			for _, s := range tt.statuses {
				r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: s, Duration: 10 * time.Millisecond})
			}
			got := r.Window("web", time.Minute)
			if got.Requests != int64(len(tt.statuses)) || got.Errors != tt.wantErrors || got.ErrorRate != tt.wantRate {
				t.Errorf("Window = %+v, want %d requests, %d errors, rate %v", got, len(tt.statuses), tt.wantErrors, tt.wantRate)
			}
			if len(tt.statuses) == 0 && (got.P50 != 0 || got.P99 != 0) {
				t.Errorf("quantiles of no requests = %v/%v, want 0", got.P50, got.P99)
			}
		})
	}
}

func TestWindowPerTargetAndGroup(t *testing.T) {
	r := NewRegistryWithClock(newFakeClock().Now)
	observe := func(listener, group, target string, status int, d time.Duration, n int) {
		for range n {
			r.Observe(Observation{Listener: listener, TargetGroup: group, Target: target, Status: status, Duration: d})
		}
	}
	// Canary group "green": one slow failing target, one fast healthy one,
	// reached from two listeners. "blue" is fast and healthy.
	observe("production", "green", "g1:80", 500, 800*time.Millisecond, 10)
	observe("production", "green", "g1:80", 200, 800*time.Millisecond, 10)
	observe("production", "green", "g2:80", 200, 10*time.Millisecond, 50)
	observe("test", "green", "g2:80", 200, 10*time.Millisecond, 30)
	observe("production", "blue", "b1:80", 200, 20*time.Millisecond, 100)

	tests := []struct {
		name             string
		got              WindowStats
		wantRequests     int64
		wantErrors       int64
		wantP50, wantP99 time.Duration
	}{
		{"group green", r.Window("green", time.Minute), 100, 10, 10 * time.Millisecond, 800 * time.Millisecond},
		{"target g1", r.TargetWindow("green", "g1:80", time.Minute), 20, 10, 800 * time.Millisecond, 800 * time.Millisecond},
		{"target g2", r.TargetWindow("green", "g2:80", time.Minute), 80, 0, 10 * time.Millisecond, 10 * time.Millisecond},
		{"group blue", r.Window("blue", time.Minute), 100, 0, 20 * time.Millisecond, 20 * time.Millisecond},
		{"target of another group", r.TargetWindow("blue", "g1:80", time.Minute), 0, 0, 0, 0},
		{"unknown group", r.Window("red", time.Minute), 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Requests != tt.wantRequests || tt.got.Errors != tt.wantErrors {
				t.Fatalf("got %+v, want %d requests and %d errors", tt.got, tt.wantRequests, tt.wantErrors)
			}
			if tt.wantRequests == 0 {
				if tt.got != (WindowStats{}) {
					t.Fatalf("got %+v, want zero", tt.got)
				}
				return
			}
			checkQuantile(t, "P50", tt.got.P50, tt.wantP50)
			checkQuantile(t, "P99", tt.got.P99, tt.wantP99)
		})
	}
}

func TestWindowNoTarget(t *testing.T) {
	r := NewRegistryWithClock(newFakeClock().Now)
	r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Millisecond})
	r.Observe(Observation{Listener: "production", TargetGroup: "web", Status: 503, ProxyError: true, Duration: 100 * time.Microsecond})

	if got := r.Window("web", time.Minute); got.Requests != 2 || got.Errors != 1 {
		t.Errorf("Window(web) = %+v, want the 503 without a target counted in its group", got)
	}
	if got := r.TargetWindow("web", "", time.Minute); got.Requests != 1 || got.Errors != 1 {
		t.Errorf(`TargetWindow(web, "") = %+v, want the one request that reached no target`, got)
	}
}
