package metrics

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram of a window slot is log-linear: bucket 0 holds
// durations under 2^latencyMinExp ns, the last bucket durations of
// 2^latencyMaxExp ns and more, and every power of two in between is split
// into latencySubBuckets equal buckets. See the package comment for the
// error bound this gives.
const (
	latencyMinExp     = 16 // 65.5µs
	latencyMaxExp     = 36 // 68.7s
	latencySubBuckets = 10
	numLatencyBuckets = 2 + (latencyMaxExp-latencyMinExp)*latencySubBuckets
)

// latencyCounts is one slot's histogram, written concurrently by Observe.
// uint32 is plenty for one second of one target.
type latencyCounts [numLatencyBuckets]atomic.Uint32

func (h *latencyCounts) reset() {
	for i := range h {
		h[i].Store(0)
	}
}

// latencyBucket returns the histogram bucket of d.
func latencyBucket(d time.Duration) int {
	if d < 1<<latencyMinExp {
		return 0 // negative durations too
	}
	if d >= 1<<latencyMaxExp {
		return numLatencyBuckets - 1
	}
	ns := uint64(d)
	e := bits.Len64(ns) - 1 // 2^e <= ns < 2^(e+1)
	sub := (ns - 1<<e) * latencySubBuckets >> e
	return 1 + (e-latencyMinExp)*latencySubBuckets + int(sub)
}

// latencyValue is the duration reported for observations in bucket i: the
// midpoint of the bucket, or the lower bound of the open-ended last one.
func latencyValue(i int) time.Duration {
	switch {
	case i <= 0:
		return 1 << latencyMinExp / 2
	case i >= numLatencyBuckets-1:
		return 1 << latencyMaxExp
	}
	e := latencyMinExp + (i-1)/latencySubBuckets
	sub := (i - 1) % latencySubBuckets
	// 2^e * (1 + (sub+0.5)/subBuckets), in integers.
	return time.Duration((uint64(1) << e) * uint64(2*latencySubBuckets+2*sub+1) / (2 * latencySubBuckets))
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1) of the merged
// histogram counts, or 0 when it is empty.
func quantile(counts *[numLatencyBuckets]uint64, q float64) time.Duration {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	// Nearest rank: the smallest observation with at least q of all
	// observations at or below it.
	rank := uint64(q * float64(total))
	if float64(rank) < q*float64(total) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			return latencyValue(i)
		}
	}
	return latencyValue(numLatencyBuckets - 1)
}
