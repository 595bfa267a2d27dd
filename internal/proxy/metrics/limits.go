package metrics

import (
	"bufio"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// The limits a request can be refused by, as the limit label of
// cutover_limit_refusals_total.
const (
	LimitHeaderSize        = "max_header_size"            // 431
	LimitBodySize          = "max_body_size"              // 413
	LimitTargetConnections = "max_connections_per_target" // 503: every target full
)

// limitKey labels the requests a limit refused.
type limitKey struct{ listener, limit string }

// Refused counts a request that a limit refused on a listener. The
// request itself is recorded with Observe as usual.
func (r *Registry) Refused(listener, limit string) {
	k := limitKey{listener, limit}
	n, ok := r.refusals.load(k)
	if !ok {
		r.mu.Lock()
		if n, ok = r.refusals.load(k); !ok {
			n = new(atomic.Int64)
			r.refusals.store(k, n)
		}
		r.mu.Unlock()
	}
	n.Add(1)
}

// RefusedCount returns what Refused counted for a listener and limit.
func (r *Registry) RefusedCount(listener, limit string) int64 {
	if n, ok := r.refusals.load(limitKey{listener, limit}); ok {
		return n.Load()
	}
	return 0
}

// writeRefusals writes cutover_limit_refusals_total, one series per
// listener and limit seen.
func (r *Registry) writeRefusals(bw *bufio.Writer) {
	m := r.refusals.snapshot()
	keys := make([]limitKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b limitKey) int {
		return cmp.Or(strings.Compare(a.listener, b.listener), strings.Compare(a.limit, b.limit))
	})
	family(bw, "cutover_limit_refusals_total", "counter", "Requests refused by a limit: max_header_size (431), max_body_size (413), max_connections_per_target (503).")
	for _, k := range keys {
		sample(bw, "cutover_limit_refusals_total", []string{"listener", k.listener}, "limit", k.limit, strconv.FormatInt(m[k].Load(), 10))
	}
}
