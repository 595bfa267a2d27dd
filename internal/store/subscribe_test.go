package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// receive reads events from ch until it has the one with ID last. The
// deadline only keeps a broken Subscribe from hanging the test.
func receive(t *testing.T, ch <-chan Event, last int64) []Event {
	t.Helper()
	var got []Event
	deadline := time.After(30 * time.Second)
	for len(got) == 0 || got[len(got)-1].ID < last {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("subscription closed after %d events, before event %d", len(got), last)
			}
			got = append(got, e)
		case <-deadline:
			t.Fatalf("no event %d after 30s; got %d events", last, len(got))
		}
	}
	return got
}

// checkSequence checks that got is exactly the events of want, in order.
func checkSequence(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Type != want[i].Type || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSubscribeWhileWritersRace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _ := openTest(t)

	const writers, perWriter = 5, 40
	var wg sync.WaitGroup
	half := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	written := 0
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, err := s.Append(ctx, Event{Type: "test", Data: fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i)}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written++
				if written == writers*perWriter/2 {
					once.Do(func() { close(half) })
				}
				mu.Unlock()
			}
		})
	}

	// Subscribe midway, from an ID the log has reached, while the
	// writers keep going.
	<-half
	after, err := s.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := s.Subscribe(ctx, after)
	wg.Wait()

	want, err := s.Events(ctx, EventFilter{AfterID: after})
	if err != nil {
		t.Fatal(err)
	}
	if total, _ := s.LastEventID(ctx); total != writers*perWriter {
		t.Fatalf("log holds %d events, want %d", total, writers*perWriter)
	}
	got := receive(t, ch, int64(writers*perWriter))
	checkSequence(t, got, want)
	for i := 1; i < len(got); i++ {
		if got[i].ID != got[i-1].ID+1 {
			t.Fatalf("gap or duplicate: %d after %d", got[i].ID, got[i-1].ID)
		}
	}
}

func TestSlowSubscriberDoesNotBlockWriters(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _ := openTest(t)
	ch := s.Subscribe(ctx, 0)

	// Far more events than the channel buffers, with nobody reading:
	// every Append must still return.
	const n = 150
	for i := range n {
		if _, err := s.Append(ctx, Event{Type: "test", Data: fmt.Appendf(nil, `{"i":%d}`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := s.Events(ctx, EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, receive(t, ch, n), want)

	// And it keeps following live events after catching up.
	e, err := s.Append(ctx, Event{Type: "live"})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, receive(t, ch, e.ID), []Event{e})
}

func TestSubscriptionEnds(t *testing.T) {
	t.Run("context canceled", func(t *testing.T) {
		s, _ := openTest(t)
		ctx, cancel := context.WithCancel(context.Background())
		ch := s.Subscribe(ctx, 0)
		cancel()
		for range ch {
		}
	})
	t.Run("store closed", func(t *testing.T) {
		s, _ := openTest(t)
		ch := s.Subscribe(context.Background(), 0)
		if _, err := s.Append(context.Background(), Event{Type: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for range ch {
		}
		if _, ok := <-s.Subscribe(context.Background(), 0); ok {
			t.Fatal("Subscribe on a closed store delivered an event")
		}
	})
}
