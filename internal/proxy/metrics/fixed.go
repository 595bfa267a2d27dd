package metrics

import (
	"bufio"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// fixedKey labels the responses of fixed-response actions.
type fixedKey struct {
	listener string
	status   int
}

// fixedCounter returns the counter of a listener's fixed responses with
// status, creating it on first use.
func (r *Registry) fixedCounter(listener string, status int) *atomic.Int64 {
	k := fixedKey{listener, status}
	if n, ok := r.fixed.load(k); ok {
		return n
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.fixed.load(k); ok {
		return n
	}
	n := new(atomic.Int64)
	r.fixed.store(k, n)
	return n
}

// writeFixed writes cutover_fixed_responses_total, one series per
// listener and status code seen.
func (r *Registry) writeFixed(bw *bufio.Writer) {
	m := r.fixed.snapshot()
	keys := make([]fixedKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fixedKey) int {
		return cmp.Or(strings.Compare(a.listener, b.listener), cmp.Compare(a.status, b.status))
	})
	family(bw, "cutover_fixed_responses_total", "counter", "Responses made by a fixed-response action (maintenance mode) instead of a target.")
	for _, k := range keys {
		sample(bw, "cutover_fixed_responses_total", []string{"listener", k.listener}, "code", strconv.Itoa(k.status), strconv.FormatInt(m[k].Load(), 10))
	}
}
