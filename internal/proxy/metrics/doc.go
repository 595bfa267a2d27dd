// Package metrics counts the requests cutover's load balancer forwards, for
// two readers: Prometheus, which scrapes cumulative counters and histograms
// in the text exposition format, and the deployment controller, which asks
// in-process for the error rate and p50/p99 latency of a target group (or of
// one target) over the last few minutes to decide whether a canary rolls
// back.
//
// Observe and Start run on every proxied request, so once the series of a
// label set exists they take no lock but a tiny per-window one, once per
// second, and do not allocate: series live in copy-on-write maps (one atomic
// load and a plain map read) and hold only atomic counters. Creating and
// forgetting series copies the maps under the Registry's mutex; that happens
// when a target is first seen or removed, not per request.
//
// # Sliding windows
//
// Every target group and every target has a ring of 600 one-second slots
// (10 minutes). A slot carries the Unix second it belongs to; the first
// request of a new second recycles the slot, and readers skip slots whose
// second is outside the window, so stale slots count as empty without any
// background sweeping. Window(group, d) rounds d up to whole seconds, clamps
// it to [1s, 10m], and covers the current second and the ones before it:
// nothing older than d is counted, and up to one second of requests younger
// than d may be left out.
//
// Each slot holds a log-linear latency histogram: every power of two of
// nanoseconds from 2^16 ns (65.5µs) to 2^36 ns (68.7s) is split into 10
// equal buckets. P50 and P99 use the nearest-rank definition, merge the
// slots in the window, and report the midpoint of the bucket holding the
// quantile's observation. For durations in [65.5µs, 68.7s) the reported
// value is within 5% of the exact nearest-rank quantile: a bucket starting
// at v is at most v/10 wide, so its midpoint is at most v/20 away from
// anything in it. Shorter durations are reported as 32.8µs (absolute error
// under 33µs); 68.7s and longer are reported as 68.7s.
//
// A slot's histogram is allocated the first time the slot sees traffic
// (808 bytes), so a ring costs at most about 500 KB and an idle one almost
// nothing.
package metrics
