package store

import (
	"context"
	"sync"
)

// subscribeBatch is how many events a subscription reads per query.
const subscribeBatch = 256

// Subscribe returns a channel that delivers every event with an ID
// greater than afterID, in ID order, without gaps or duplicates: first
// those already in the log, then new ones as they are committed. The
// channel is closed when ctx ends, when the Store is closed, or when
// reading the log fails; a consumer that still wants events subscribes
// again after the last ID it received.
//
// The table is the only source: a subscription reads the log after each
// commit that appended events, so a slow consumer never blocks writers
// and never misses an event, it only falls behind. Reading "id > last"
// cannot skip an event because SQLite has one writer at a time and IDs
// are assigned under the write lock: when an ID is visible, every
// smaller ID is committed (or rolled back and never visible). Events
// written to the file by another process are read when this process next
// commits an event.
func (s *Store) Subscribe(ctx context.Context, afterID int64) <-chan Event {
	out := make(chan Event, 64)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(out)
		return out
	}
	s.subs.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.subs.Done()
		defer close(out)
		last := afterID
		for {
			// Take the signal channel before reading, so a commit
			// after the read wakes the wait below.
			changed := s.changed.wait()
			events, err := s.Events(ctx, EventFilter{AfterID: last, Limit: subscribeBatch})
			if err != nil {
				return
			}
			for _, e := range events {
				select {
				case out <- e:
					last = e.ID
				case <-ctx.Done():
					return
				case <-s.closing:
					return
				}
			}
			if len(events) == subscribeBatch {
				continue
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
		}
	}()
	return out
}

// broadcast wakes every waiter at once: wait returns a channel that the
// next signal closes.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast {
	return &broadcast{ch: make(chan struct{})}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}
