package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestClaimDelivery(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	s, _ := openTest(t, WithClock(func() time.Time { return now }))
	seedApp(t, s, "hello")
	seedApp(t, s, "other")
	const window = 24 * time.Hour
	before := countEvents(t, s)

	claim := func(app string, keys ...string) (WebhookDelivery, bool) {
		t.Helper()
		d, ok, err := s.ClaimDelivery(ctx, app, keys, window)
		if err != nil {
			t.Fatalf("ClaimDelivery(%s, %v): %v", app, keys, err)
		}
		return d, ok
	}

	if _, ok := claim("hello", "github:1", "sha256:aa"); !ok {
		t.Fatal("a first delivery was refused")
	}
	if err := s.SetDeliveryExecution(ctx, "hello", []string{"github:1", "sha256:aa"}, "hello-e1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		app   string
		keys  []string
		fresh bool
	}{
		{"same delivery id", "hello", []string{"github:1", "sha256:bb"}, false},
		{"same content, another id", "hello", []string{"github:2", "sha256:aa"}, false},
		{"same content, no id", "hello", []string{"sha256:aa"}, false},
		{"new delivery", "hello", []string{"github:3", "sha256:cc"}, true},
		{"same id for another app", "other", []string{"github:1", "sha256:aa"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := claim(tt.app, tt.keys...)
			if ok != tt.fresh {
				t.Fatalf("claimed = %v, want %v (earlier record %+v)", ok, tt.fresh, d)
			}
			if !ok && (d.Execution != "hello-e1" || !d.ReceivedAt.Equal(now)) {
				t.Fatalf("earlier record = %+v, want execution hello-e1 received at %s", d, now)
			}
		})
	}

	// A released delivery can be claimed again.
	if err := s.ReleaseDelivery(ctx, "hello", []string{"github:3", "sha256:cc"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim("hello", "github:3", "sha256:cc"); !ok {
		t.Fatal("a released delivery was refused")
	}

	// After the window, the same delivery is new again.
	now = now.Add(window + time.Second)
	if _, ok := claim("hello", "github:1", "sha256:aa"); !ok {
		t.Fatal("a delivery older than the window was refused")
	}

	if _, _, err := s.ClaimDelivery(ctx, "hello", nil, window); !errors.Is(err, ErrInvalid) {
		t.Errorf("a delivery without keys: %v, want ErrInvalid", err)
	}
	if _, _, err := s.ClaimDelivery(ctx, "hello", []string{""}, window); !errors.Is(err, ErrInvalid) {
		t.Errorf("a delivery with an empty key: %v, want ErrInvalid", err)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("deliveries appended %d events, want none", n-before)
	}
}
