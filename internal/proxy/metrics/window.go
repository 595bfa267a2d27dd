package metrics

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// windowSlots is the length of a window's ring: one slot per second, so
// Window reaches back 10 minutes.
const windowSlots = 600

// noSecond marks a slot that holds no second: never used, or being
// recycled.
const noSecond = math.MinInt64

// WindowStats summarizes the requests of a target group or target over a
// sliding window.
type WindowStats struct {
	Requests int64
	// Errors counts responses with status >= 500, including the
	// 502/503/504 the proxy made itself.
	Errors int64
	// ErrorRate is Errors/Requests, 0 when Requests == 0.
	ErrorRate float64
	// P50 and P99 are nearest-rank latency quantiles within the error
	// bound documented in the package comment; 0 when Requests == 0.
	P50, P99 time.Duration
}

// window is a ring of per-second slots for one target group or target.
type window struct {
	mu    sync.Mutex // serializes recycling a slot for a new second
	slots [windowSlots]slot
}

type slot struct {
	sec      atomic.Int64 // Unix second the counts belong to, or noSecond
	requests atomic.Int64
	errors   atomic.Int64
	// latency is allocated the first time the slot is used and reused
	// after that; it is never nil while sec holds a second.
	latency atomic.Pointer[latencyCounts]
}

func newWindow() *window {
	w := new(window)
	for i := range w.slots {
		w.slots[i].sec.Store(noSecond)
	}
	return w
}

func slotIndex(sec int64) int {
	i := sec % windowSlots
	if i < 0 {
		i += windowSlots
	}
	return int(i)
}

// record adds one request that finished during Unix second sec.
func (w *window) record(sec int64, d time.Duration, failed bool) {
	s := &w.slots[slotIndex(sec)]
	if s.sec.Load() != sec && !w.recycle(s, sec) {
		return
	}
	s.requests.Add(1)
	if failed {
		s.errors.Add(1)
	}
	s.latency.Load()[latencyBucket(d)].Add(1)
}

// recycle makes s hold second sec, emptying it if it held an older one. It
// reports false when s already holds a newer second, which happens only if
// the clock went backwards by 10 minutes: such a request is not counted.
//
// A writer that read the old second just before recycling may still add
// its request to the new one. That takes a goroutine stalled across a
// second boundary exactly as the slot is reused; the error is one request.
func (w *window) recycle(s *slot, sec int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := s.sec.Load()
	if cur == sec {
		return true
	}
	if cur > sec {
		return false
	}
	s.sec.Store(noSecond) // readers skip the slot while it is emptied
	s.requests.Store(0)
	s.errors.Store(0)
	if h := s.latency.Load(); h != nil {
		h.reset()
	} else {
		s.latency.Store(new(latencyCounts))
	}
	s.sec.Store(sec)
	return true
}

// stats sums the n seconds ending with Unix second now.
func (w *window) stats(now int64, n int64) WindowStats {
	var st WindowStats
	var merged [numLatencyBuckets]uint64
	for sec := now - n + 1; sec <= now; sec++ {
		s := &w.slots[slotIndex(sec)]
		if s.sec.Load() != sec {
			continue // stale or unused: empty
		}
		req := s.requests.Load()
		if req == 0 {
			continue
		}
		st.Requests += req
		st.Errors += s.errors.Load()
		h := s.latency.Load()
		for i := range h {
			merged[i] += uint64(h[i].Load())
		}
	}
	if st.Requests == 0 {
		return WindowStats{}
	}
	st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	st.P50 = quantile(&merged, 0.50)
	st.P99 = quantile(&merged, 0.99)
	return st
}

// windowSeconds converts d to a number of slots: rounded up to whole
// seconds, at least 1 and at most windowSlots.
func windowSeconds(d time.Duration) int64 {
	switch {
	case d <= time.Second:
		return 1
	case d >= windowSlots*time.Second:
		return windowSlots
	}
	return int64((d + time.Second - 1) / time.Second)
}
