package metrics

import "sync/atomic"

// cowMap is a copy-on-write map. Reads are an atomic load and a plain map
// lookup, with no lock and no allocation; writes copy the whole map and
// must be serialized by the caller. It suits label sets, which are read on
// every request and change only when targets come and go.
type cowMap[K comparable, V any] struct {
	p atomic.Pointer[map[K]V]
}

func (m *cowMap[K, V]) load(k K) (V, bool) {
	p := m.p.Load()
	if p == nil {
		var zero V
		return zero, false
	}
	v, ok := (*p)[k]
	return v, ok
}

// snapshot returns the current map, which must not be modified.
func (m *cowMap[K, V]) snapshot() map[K]V {
	if p := m.p.Load(); p != nil {
		return *p
	}
	return nil
}

// store adds or replaces k. The caller holds the owner's write lock.
func (m *cowMap[K, V]) store(k K, v V) {
	old := m.snapshot()
	next := make(map[K]V, len(old)+1)
	for ok, ov := range old {
		next[ok] = ov
	}
	next[k] = v
	m.p.Store(&next)
}

// deleteFunc removes every key for which del returns true. The caller holds
// the owner's write lock.
func (m *cowMap[K, V]) deleteFunc(del func(K) bool) {
	old := m.snapshot()
	next := make(map[K]V, len(old))
	for k, v := range old {
		if !del(k) {
			next[k] = v
		}
	}
	if len(next) != len(old) {
		m.p.Store(&next)
	}
}
