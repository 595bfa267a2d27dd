package proxy

import "sync"

// changes is a broadcast of "something about the targets changed": a
// health status, a registration, a drain that started or ended. Waiters
// take the current channel with wait; signal closes it and starts a new
// one. Waking without a change is harmless, so callers re-read Targets.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *changes) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *changes) signal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// Changed returns a channel that is closed at the next change of any
// target's state (as Targets reports it). Take a new one after each wake.
func (p *Proxy) Changed() <-chan struct{} { return p.changes.wait() }
