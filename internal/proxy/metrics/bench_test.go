package metrics

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkObserve(b *testing.B) {
	r := NewRegistry()
	o := Observation{Listener: "production", TargetGroup: "web", Target: "10.0.0.1:8080", Status: 200, Duration: 12 * time.Millisecond, BytesIn: 100, BytesOut: 2000}
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(o)
	}
}

// BenchmarkObserveParallel spreads requests over 8 targets of one group,
// as a proxy under load does: the group's counters are shared, the
// targets' are not.
func BenchmarkObserveParallel(b *testing.B) {
	r := NewRegistry()
	var obs [8]Observation
	for i := range obs {
		obs[i] = Observation{Listener: "production", TargetGroup: "web", Target: fmt.Sprintf("10.0.0.%d:8080", i+1), Status: 200, Duration: time.Duration(i+1) * time.Millisecond, BytesIn: 100, BytesOut: 2000}
		r.Observe(obs[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Observe(obs[i%len(obs)])
			i++
		}
	})
}

func BenchmarkStart(b *testing.B) {
	r := NewRegistry()
	b.ReportAllocs()
	for b.Loop() {
		r.Start("production", "web", "10.0.0.1:8080")()
	}
}

// BenchmarkWindow is the controller's query over a full 10-minute window.
func BenchmarkWindow(b *testing.B) {
	clock := newFakeClock()
	r := NewRegistryWithClock(clock.Now)
	for range windowSlots {
		for i := range 10 {
			r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Duration(i+1) * time.Millisecond})
		}
		clock.Advance(time.Second)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Window("web", 10*time.Minute)
	}
}
