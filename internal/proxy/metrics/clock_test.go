package metrics

import (
	"sync"
	"time"
)

// fakeClock is a settable clock for NewRegistryWithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	// Half a second past a whole second, so that "d ago" is never on a
	// slot boundary.
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
