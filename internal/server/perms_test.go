package server

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/api"
)

// Under the usual umask 022, and on a data directory made 0755 before,
// cutover makes the directory and the files it writes the owner's only:
// another local user must not read the store, its WAL, the sockets or
// the logs.
func TestDataDirectoryIsTheOwnersOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Start(ctx, Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), API: api.TCPOptions{Addr: "127.0.0.1:0"}, InProcessDataPlane: true})
	if err != nil {
		t.Fatal(err)
	}
	// A write, so that the WAL exists.
	token(t, s, "read")
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(cctx)
	}()

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want 0700", fi.Mode(), err)
	}
	for _, name := range []string{"cutover.db", "cutover.db-wal", "cutover.db-shm", "owner-id", SocketName, "dataplane.sock"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; want no access for group or others", name, fi.Mode().Perm())
		}
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		if fi, err := d.Info(); err == nil && d.Type().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; want the owner's only", path, fi.Mode().Perm())
		}
		return nil
	})
}
