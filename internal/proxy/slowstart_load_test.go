package proxy

import (
	"testing"
	"time"
)

// Through the proxy under load, a target added to a group with slow start
// gets almost nothing at first, while one added to a group without it
// gets its full share at once.
func TestSlowStartUnderLoad(t *testing.T) {
	for _, tt := range []struct {
		name      string
		slowStart time.Duration
		lo, hi    float64 // the new target's share of the requests
	}{
		// 900s: even a machine stalled for seconds keeps the ramp under 1%.
		{"slow start", 900 * time.Second, 0, 0.02},
		{"no slow start", 0, 0.15, 0.60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old1, old2, added := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "new", nil)
			tg := group("g", old1.addr, old2.addr)
			tg.SlowStart = tt.slowStart
			tg.Algorithm = LeastOutstandingRequests // floods an idle new target without slow start
			cfg := oneListener(forward("g", 1), tg)
			p := startProxy(t, cfg)

			stop := make(chan struct{})
			res, wait := hammer(t, baseURL(p, "web")+"/", 8, stop)
			time.Sleep(200 * time.Millisecond)
			cfg.TargetGroups[0].Targets = append(cfg.TargetGroups[0].Targets, added.addr)
			mustApply(t, p, cfg)
			before := old1.hits.Load() + old2.hits.Load()
			time.Sleep(1500 * time.Millisecond)
			close(stop)
			wait()
			newHits := added.hits.Load()
			total := old1.hits.Load() + old2.hits.Load() - before + newHits
			share := float64(newHits) / float64(total)
			t.Logf("new target: %d of %d requests (%.1f%%); %d failed", newHits, total, 100*share, res.failed.Load())
			if res.failed.Load() != 0 {
				t.Fatalf("%d requests failed: %v", res.failed.Load(), res.firstErr.Load())
			}
			if share < tt.lo || share > tt.hi {
				t.Fatalf("new target's share %.3f, want %.2f-%.2f", share, tt.lo, tt.hi)
			}
		})
	}
}
