package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLatencyBucketEdges(t *testing.T) {
	last := numLatencyBuckets - 1
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{1<<latencyMinExp - 1, 0},
		{1 << latencyMinExp, 1},
		{1<<latencyMinExp*11/10 - 1, 1},
		{1<<latencyMinExp*11/10 + 1, 2}, // 2^16 * 1.1 = 72089.6
		{1<<(latencyMinExp+1) - 1, latencySubBuckets},
		{1 << (latencyMinExp + 1), latencySubBuckets + 1},
		{1<<latencyMaxExp - 1, last - 1},
		{1 << latencyMaxExp, last},
		{time.Hour, last},
		{math.MaxInt64, last},
	}
	for _, tt := range tests {
		if got := latencyBucket(tt.d); got != tt.want {
			t.Errorf("latencyBucket(%d) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// TestLatencyBucketError checks the documented bound directly: every
// duration in [2^16ns, 2^36ns) is reported within 5%, and buckets grow with
// the duration.
func TestLatencyBucketError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	prev := 0
	// Walk the range in small geometric steps, plus random points.
	var ds []time.Duration
	for d := float64(1 << latencyMinExp); d < 1<<latencyMaxExp; d *= 1.003 {
		ds = append(ds, time.Duration(d))
	}
	for range 100_000 {
		exp := latencyMinExp + rng.Float64()*(latencyMaxExp-latencyMinExp)
		ds = append(ds, time.Duration(math.Exp2(exp)))
	}
	slices.Sort(ds)
	for _, d := range ds {
		i := latencyBucket(d)
		if i < prev {
			t.Fatalf("latencyBucket(%v) = %d, below %d for a shorter duration", d, i, prev)
		}
		prev = i
		got := latencyValue(i)
		if rel := math.Abs(float64(got-d)) / float64(d); rel > 0.05 {
			t.Fatalf("duration %v reported as %v: relative error %.4f > 0.05", d, got, rel)
		}
	}
}

// TestWindowQuantileAccuracy feeds known distributions through Observe and
// compares Window's P50/P99 with the exact nearest-rank quantiles.
func TestWindowQuantileAccuracy(t *testing.T) {
	tests := []struct {
		name string
		n    int
		gen  func(rng *rand.Rand) time.Duration
	}{
		{"constant 250ms", 1000, func(*rand.Rand) time.Duration { return 250 * time.Millisecond }},
		{"uniform 1ms-100ms", 20_000, func(rng *rand.Rand) time.Duration {
			return time.Millisecond + time.Duration(rng.Int64N(int64(99*time.Millisecond)))
		}},
		{"log-uniform 100us-30s", 20_000, func(rng *rand.Rand) time.Duration {
			return time.Duration(math.Exp(math.Log(1e5) + rng.Float64()*(math.Log(3e10)-math.Log(1e5))))
		}},
		{"log-normal around 40ms", 50_000, func(rng *rand.Rand) time.Duration {
			return time.Duration(40e6 * math.Exp(0.8*rng.NormFloat64()))
		}},
		{"bimodal 98% 5ms, 2% 2s", 10_000, func(rng *rand.Rand) time.Duration {
			if rng.IntN(100) < 98 {
				return 5*time.Millisecond + time.Duration(rng.Int64N(int64(time.Millisecond)))
			}
			return 2*time.Second + time.Duration(rng.Int64N(int64(500*time.Millisecond)))
		}},
		{"one request", 1, func(*rand.Rand) time.Duration { return 3 * time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			r := NewRegistryWithClock(clock.Now)
			rng := rand.New(rand.NewPCG(3, 4))
			ds := make([]time.Duration, tt.n)
			for i := range ds {
				ds[i] = tt.gen(rng)
				r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "10.0.0.1:80", Status: 200, Duration: ds[i]})
				if i%1000 == 999 {
					clock.Advance(time.Second) // spread over slots
				}
			}
			slices.Sort(ds)

			for _, got := range []WindowStats{
				r.Window("web", 10*time.Minute),
				r.TargetWindow("web", "10.0.0.1:80", 10*time.Minute),
			} {
				if got.Requests != int64(tt.n) {
					t.Fatalf("Requests = %d, want %d", got.Requests, tt.n)
				}
				checkQuantile(t, "P50", got.P50, nearestRank(ds, 0.50))
				checkQuantile(t, "P99", got.P99, nearestRank(ds, 0.99))
			}
		})
	}
}

func nearestRank(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func checkQuantile(t *testing.T, name string, got, want time.Duration) {
	t.Helper()
	if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.05 {
		t.Errorf("%s = %v, exact %v: relative error %.4f > 0.05", name, got, want, rel)
	}
}
