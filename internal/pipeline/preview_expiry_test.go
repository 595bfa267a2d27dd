package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// TestIdlePreviewsAreDestroyed runs expirePreviews with an injected
// clock: a preview idle longer than its parent's preview.idle is
// destroyed (Options.Destroy called, the preview forgotten with
// preview.destroyed saying why); a younger one stays.
func TestIdlePreviewsAreDestroyed(t *testing.T) {
	ctx := context.Background()
	var clockMu sync.Mutex
	clock := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	at := func(t time.Time) {
		clockMu.Lock()
		clock = t
		clockMu.Unlock()
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"), store.WithClock(func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return clock
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	var destroyed []string
	p := New(Options{Store: st, DataDir: t.TempDir(), Destroy: func(_ context.Context, app string) error {
		mu.Lock()
		defer mu.Unlock()
		destroyed = append(destroyed, app)
		return nil
	}})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	<-p.Started()

	if err := st.PutApp(ctx, store.App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetSettings(ctx, "hello", Settings{Preview: &Preview{Domain: "*.hello.example.com", Idle: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for i, name := range []string{"hello-pr-1", "hello-pr-2"} {
		at(start.Add(time.Duration(i) * 30 * time.Minute)) // hello-pr-2's last activity is 30 minutes later
		pv := store.Preview{App: name, Parent: "hello", SourceKey: "pr:" + name[9:], Host: name + ".example.com", Status: store.PreviewDeployed}
		if _, _, err := st.PutPreview(ctx, pv, 5); err != nil {
			t.Fatal(err)
		}
	}
	now := start.Add(time.Hour + time.Minute)
	at(now)
	p.expirePreviews(ctx, now)
	waitFor(t, 5*time.Second, "hello-pr-1 forgotten", func() bool {
		_, err := st.GetPreview(ctx, "hello-pr-1")
		return err != nil
	})
	mu.Lock()
	got := slices.Clone(destroyed)
	mu.Unlock()
	if !slices.Equal(got, []string{"hello-pr-1"}) {
		t.Errorf("destroyed %v, want hello-pr-1 only", got)
	}
	if _, err := st.GetPreview(ctx, "hello-pr-2"); err != nil {
		t.Errorf("hello-pr-2, idle 31m of 1h, was destroyed: %v", err)
	}
	events, _ := st.Events(ctx, store.EventFilter{App: "hello", Types: []string{store.EventPreviewDestroyed}})
	if len(events) != 1 || !strings.Contains(string(events[0].Data), `"app":"hello-pr-1"`) ||
		!strings.Contains(string(events[0].Data), `idle for 1h1m0s (preview.idle 1h0m0s)`) {
		t.Errorf("preview.destroyed events: %d", len(events))
		for _, e := range events {
			t.Errorf("%s", e.Data)
		}
	}
}
