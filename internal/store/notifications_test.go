package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNotificationHooks(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	seedApp(t, s, "hello")

	h, err := s.AddNotificationHook(ctx, NotificationHook{App: "hello", URL: "https://example.com/a", Secret: "s3cret-value"})
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != "hello-n1" || !h.HasSecret {
		t.Errorf("added %+v, want ID hello-n1 with a secret", h)
	}
	tests := []struct {
		name string
		hook NotificationHook
		want error
	}{
		{"same URL", NotificationHook{App: "hello", URL: "https://example.com/a"}, ErrConflict},
		{"unknown app", NotificationHook{App: "nope", URL: "https://example.com/b"}, ErrNotFound},
		{"empty URL", NotificationHook{App: "hello"}, ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := s.AddNotificationHook(ctx, tt.hook); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	hooks, err := s.NotificationHooks(ctx, "hello")
	if err != nil || len(hooks) != 1 || hooks[0].Secret != "s3cret-value" || len(hooks[0].Events) != 0 {
		t.Fatalf("hooks = %+v, %v; want the one added, its secret opened", hooks, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret-value") {
		t.Error("the webhook secret is in the database file in clear")
	}
	evs, err := s.Events(ctx, EventFilter{Types: []string{EventNotificationHookAdded}})
	if err != nil || len(evs) != 1 || strings.Contains(string(evs[0].Data), "example.com/a") || !strings.Contains(string(evs[0].Data), `"https://example.com/…"`) {
		t.Errorf("hook.added events %v, %v: want one with the URL's host only", evs, err)
	}
	if _, err := s.RemoveNotificationHook(ctx, "hello", "https://example.com/missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a missing webhook: %v, want ErrNotFound", err)
	}
	if _, err := s.RemoveNotificationHook(ctx, "hello", "https://example.com/a"); err != nil {
		t.Fatal(err)
	}
	if hooks, _ := s.NotificationHooks(ctx, "hello"); len(hooks) != 0 {
		t.Errorf("after remove: %+v", hooks)
	}
}

func TestNotificationDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "hello")
	if _, ok, err := s.NotificationCursor(ctx); ok || err != nil {
		t.Fatalf("cursor of a new store: ok=%v err=%v", ok, err)
	}
	d := NotificationDelivery{App: "hello", Hook: "cutover.yaml#1", URL: "http://127.0.0.1:1/", Event: "deployment.started",
		Subject: "hello-d1", Body: json.RawMessage(`{"event":"deployment.started"}`), Secret: "k"}
	queued, err := s.QueueNotifications(ctx, 7, []NotificationDelivery{d})
	if err != nil || len(queued) != 1 {
		t.Fatalf("queue: %v, %v", queued, err)
	}
	// The same event again (a crash between send and cursor) queues nothing.
	if again, err := s.QueueNotifications(ctx, 7, []NotificationDelivery{d}); err != nil || len(again) != 0 {
		t.Fatalf("queue again: %v, %v", again, err)
	}
	if id, ok, _ := s.NotificationCursor(ctx); !ok || id != 7 {
		t.Errorf("cursor = %d, %v; want 7", id, ok)
	}
	id := queued[0].ID
	next := time.Now().Add(time.Minute)
	if err := s.RecordNotificationAttempt(ctx, id, NotificationAttempt{StatusCode: 500, Error: "500 Internal Server Error"}, DeliveryPending, next); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingNotifications(ctx)
	if err != nil || len(pending) != 1 || pending[0].Attempts != 1 || pending[0].Secret != "k" {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	before := countEvents(t, s)
	if err := s.RecordNotificationAttempt(ctx, id, NotificationAttempt{StatusCode: 204}, DeliverySucceeded, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := countEvents(t, s) - before; got != 1 {
		t.Errorf("a delivery that ended appended %d events, want 1", got)
	}
	ds, err := s.NotificationDeliveries(ctx, "hello", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries = %+v, %v", ds, err)
	}
	got := ds[0]
	if got.Status != DeliverySucceeded || got.Attempts != 2 || len(got.AttemptLog) != 2 ||
		got.AttemptLog[0].StatusCode != 500 || got.AttemptLog[1].StatusCode != 204 {
		t.Errorf("delivery = %+v, want succeeded after 500 then 204", got)
	}
	if pending, _ := s.PendingNotifications(ctx); len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
}
