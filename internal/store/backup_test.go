package store

import (
	"context"
	"path/filepath"
	"testing"
)

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, dest); err == nil {
		t.Error("a second backup overwrote the first")
	}
	// Later writes are not in the backup.
	if err := s.PutApp(ctx, App{Name: "later"}); err != nil {
		t.Fatal(err)
	}

	b, err := Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.GetRevision(ctx, rev.ID); err != nil {
		t.Errorf("revision missing from the backup: %v", err)
	}
	apps, err := b.ListApps(ctx)
	if err != nil || len(apps) != 1 {
		t.Errorf("apps in the backup = %+v, %v; want hello only", apps, err)
	}
	if n := countEvents(t, b); n != 2 {
		t.Errorf("events in the backup = %d, want 2", n)
	}
}
