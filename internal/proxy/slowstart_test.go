package proxy

import (
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// slowGroup is a target group with checks off and slow start on, made
// inside the caller's synctest bubble.
func slowGroup(t *testing.T, algorithm string, targets ...string) (*targetGroup, TargetGroupConfig) {
	g := newTargetGroup("g", testLogger(t), metrics.NewRegistry(), &sync.WaitGroup{})
	cfg := Config{TargetGroups: []TargetGroupConfig{{
		Name: "g", Targets: targets, Algorithm: algorithm,
		HealthCheck: health.Config{Disabled: true}, SlowStart: 100 * time.Second,
	}}}.WithDefaults().TargetGroups[0]
	g.update(cfg)
	t.Cleanup(g.close)
	return g, cfg
}

// shareOf picks n times, each request ending at once, and returns the
// fraction of picks that went to addr.
func shareOf(g *targetGroup, addr string, n int) float64 {
	hits := 0
	for range n {
		tg := g.pickAcquire(nil)
		if tg.addr == addr {
			hits++
		}
		g.release(tg)
	}
	return float64(hits) / float64(n)
}

func TestSlowStartRampsANewTargetLinearly(t *testing.T) {
	for _, alg := range []string{RoundRobin, LeastOutstandingRequests} {
		t.Run(alg, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g, cfg := slowGroup(t, alg, "10.0.0.1:80", "10.0.0.2:80")
				if got := shareOf(g, "10.0.0.1:80", 2000); math.Abs(got-0.5) > 0.05 {
					t.Fatalf("targets registered together: share %.3f, want 0.5 (no slow start among them)", got)
				}
				cfg.Targets = append(cfg.Targets, "10.0.0.3:80")
				g.update(cfg)
				begin := time.Now()
				// Three targets: the new one's share is f/3 where f is the
				// part of the 100s ramp behind it.
				for _, at := range []time.Duration{0, 25 * time.Second, 50 * time.Second, 75 * time.Second, 100 * time.Second, 150 * time.Second} {
					time.Sleep(time.Until(begin.Add(at)))
					f := min(at.Seconds()/100, 1)
					got := shareOf(g, "10.0.0.3:80", 6000)
					if want := f / 3; math.Abs(got-want) > 0.03 {
						t.Errorf("after %s: new target's share %.3f, want %.3f", at, got, want)
					}
				}
			})
		})
	}
}

func TestSlowStartOnlyBesideAnotherHealthyTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, cfg := slowGroup(t, RoundRobin, "10.0.0.1:80")
		cfg.Targets = []string{"10.0.0.2:80"} // the first drains; none routable
		g.update(cfg)
		if got := shareOf(g, "10.0.0.2:80", 100); got != 1 {
			t.Fatalf("alone in its group: share %.2f, want 1 (no slow start)", got)
		}
	})
}

func TestSlowStartAgainWhenHealthyAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := slowGroup(t, RoundRobin, "10.0.0.1:80", "10.0.0.2:80")
		b := (*g.known.Load())["10.0.0.2:80"]
		g.mu.Lock()
		g.setHealth(b, health.StatusUnhealthy, "Target.Timeout")
		g.setHealth(b, health.StatusHealthy, "")
		g.mu.Unlock()
		if got := shareOf(g, "10.0.0.2:80", 2000); got > 0.02 {
			t.Fatalf("healthy again: share %.3f at once, want about 0", got)
		}
		time.Sleep(50 * time.Second)
		if got := shareOf(g, "10.0.0.2:80", 4000); math.Abs(got-0.25) > 0.03 {
			t.Fatalf("halfway through the ramp: share %.3f, want 0.25", got)
		}
	})
}
