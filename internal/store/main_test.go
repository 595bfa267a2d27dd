package store

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTest opens a store in a fresh directory and closes it at the end
// of the test.
func openTest(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "cutover.db")
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

// seedApp creates app name with one revision and returns the revision.
func seedApp(t *testing.T, s *Store, name string) Revision {
	t.Helper()
	ctx := context.Background()
	if err := s.PutApp(ctx, App{Name: name, Spec: []byte(`{"port":3000}`), DesiredCount: 2}); err != nil {
		t.Fatalf("PutApp: %v", err)
	}
	r, err := s.CreateRevision(ctx, Revision{App: name, Commit: "abc123", Artifact: "/releases/" + name + "/1"})
	if err != nil {
		t.Fatalf("CreateRevision: %v", err)
	}
	return r
}

// countEvents returns how many events the log holds.
func countEvents(t *testing.T, s *Store) int {
	t.Helper()
	events, err := s.Events(context.Background(), EventFilter{})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return len(events)
}
