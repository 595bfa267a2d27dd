package notify

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// sender makes the pending deliveries: one goroutine per delivery, which
// waits for the delivery's next attempt, makes it, records it and
// schedules the next until the delivery ends.
type sender struct {
	store  deliveries
	client *http.Client
	log    *slog.Logger
	wake   chan struct{} // a value: new deliveries may be pending
	slots  chan struct{} // bounds the attempts in flight

	mu       sync.Mutex
	inflight map[string]bool // deliveries with a goroutine
	wg       sync.WaitGroup
}

func newSender(st deliveries, client *http.Client, log *slog.Logger) *sender {
	return &sender{
		store: st, client: client, log: log,
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, maxInFlight),
		inflight: map[string]bool{},
	}
}

// kick tells run that new deliveries may be pending.
func (s *sender) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// rescan is how often run looks for pending deliveries without a
// goroutine (one whose attempt could not be recorded).
const rescan = time.Minute

// run starts the pending deliveries, and those queued later, until ctx
// ends; then it waits for them.
func (s *sender) run(ctx context.Context) {
	defer s.wg.Wait()
	tick := time.NewTicker(rescan)
	defer tick.Stop()
	for {
		s.startPending(ctx)
		select {
		case <-s.wake:
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (s *sender) startPending(ctx context.Context) {
	ds, err := s.store.PendingNotifications(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("listing pending notifications", "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if s.inflight[d.ID] {
			continue
		}
		s.inflight[d.ID] = true
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(ctx, d)
			s.mu.Lock()
			delete(s.inflight, d.ID)
			s.mu.Unlock()
		}()
	}
}

// deliver makes d's attempts until it ends or ctx does. An attempt cut
// short by ctx is not recorded: it is made again after a restart.
func (s *sender) deliver(ctx context.Context, d store.NotificationDelivery) {
	for {
		if !sleepUntil(ctx, d.NextAttemptAt) || !s.acquire(ctx) {
			return
		}
		r := send(ctx, s.client, d)
		<-s.slots
		if ctx.Err() != nil {
			return
		}
		status, next := store.DeliverySucceeded, time.Time{}
		if r.attempt.Error != "" {
			status = store.DeliveryFailed
			if wait, ok := Backoff(d.Attempts+1, r.retryAfter); ok && r.retry {
				status, next = store.DeliveryPending, time.Now().Add(wait)
			}
		}
		err := s.store.RecordNotificationAttempt(ctx, d.ID, r.attempt, status, next)
		if errors.Is(err, store.ErrConflict) {
			return // the webhook was removed
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("recording a notification attempt", "delivery", d.ID, "err", err)
			}
			return
		}
		s.log.Info("notification attempt", "delivery", d.ID, "app", d.App, "event", d.Event,
			"hook", d.Hook, "attempt", d.Attempts+1, "status", status, "error", r.attempt.Error)
		if status != store.DeliveryPending {
			return
		}
		d.Attempts++
		d.NextAttemptAt = next
	}
}

func (s *sender) acquire(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
