package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestMaintenance(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	if err := s.PutApp(ctx, App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	events := func() []string {
		es, err := s.Events(ctx, EventFilter{App: "hello", Types: []string{EventMaintenanceOn, EventMaintenanceOff}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Type+" "+string(e.Data))
		}
		return out
	}

	if m, err := s.GetMaintenance(ctx, "hello"); err != nil || m.On {
		t.Fatalf("new app: %+v, %v; want off", m, err)
	}
	m, err := s.SetMaintenance(ctx, "hello", "<h1>back soon</h1>", 300)
	if err != nil || !m.On || m.Since.IsZero() {
		t.Fatalf("SetMaintenance: %+v, %v", m, err)
	}
	// Another page keeps the time it was turned on.
	if again, err := s.SetMaintenance(ctx, "hello", "", 60); err != nil || !again.Since.Equal(m.Since) {
		t.Fatalf("SetMaintenance again: %+v, %v; want on since %v", again, err, m.Since)
	}
	for _, bad := range []int{-1, 86401} {
		if _, err := s.SetMaintenance(ctx, "hello", "x", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("retry after %d: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := s.SetMaintenance(ctx, "nope", "", 60); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown app: %v, want ErrNotFound", err)
	}

	// It survives reopening the database.
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetMaintenance(ctx, "hello")
	if err != nil || !got.On || got.Page != "" || got.RetryAfter != 60 || !got.Since.Equal(m.Since) {
		t.Errorf("after reopening: %+v, %v; want on since %v, default page, 60s", got, err, m.Since)
	}

	if err := s.ClearMaintenance(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearMaintenance(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMaintenance(ctx, "hello"); got.On {
		t.Errorf("after ClearMaintenance: %+v, want off", got)
	}
	want := []string{
		`app.maintenance_on {"retry_after":300,"page_bytes":18}`,
		`app.maintenance_on {"retry_after":60,"default_page":true}`,
		`app.maintenance_off {}`,
		`app.maintenance_off {}`,
	}
	if got := events(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}
	if err := s.ClearMaintenance(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown app: %v, want ErrNotFound", err)
	}
}
