package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and returns
// it; the test is skipped unless it runs as root.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs to fill needs root; CI runs as root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)+",mode=0700"); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("creating %s: %v", path, err)
	}
	defer f.Close()
	for _, n := range []int{1 << 20, 4096, 1} {
		chunk := make([]byte, n)
		for {
			if _, err = f.Write(chunk); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("filling %s: %v; want ENOSPC", path, err)
		}
	}
}

// TestWritesFailOnFullDiskThenRecover fills the store's file system: a
// write fails with an error (nothing is half-written), and once space is
// back the same Store writes again without being reopened.
func TestWritesFailOnFullDiskThenRecover(t *testing.T) {
	dir := mountTmpfs(t, 8<<20)
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(dir, "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rev := seedApp(t, s, "web")
	if err := s.PutTask(ctx, Task{ID: "t1", App: "web", Revision: rev.ID, State: TaskHealthy}); err != nil {
		t.Fatal(err)
	}
	before := countEvents(t, s)

	fill := filepath.Join(dir, "fill")
	fillDisk(t, fill)
	var failed error
	for i := 0; i < 5000 && failed == nil; i++ { // the WAL may have room for a few writes
		_, failed = s.Append(ctx, Event{Type: "test.fill", Data: []byte(`"` + strings.Repeat("x", 2000) + `"`)})
	}
	if failed == nil {
		t.Fatal("the store still writes on a full disk")
	}
	t.Logf("write on a full disk: %v", failed)
	if _, err := s.SetTaskState(ctx, "t1", TaskStopped); err == nil {
		t.Fatal("SetTaskState on a full disk succeeded")
	}
	if got, _ := s.GetTask(ctx, "t1"); got.State != TaskHealthy {
		t.Errorf("after a failed write the task is %s; want healthy (unchanged)", got.State)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTaskState(ctx, "t1", TaskStopped); err != nil {
		t.Fatalf("SetTaskState once space is back: %v", err)
	}
	if got, _ := s.GetTask(ctx, "t1"); got.State != TaskStopped {
		t.Errorf("the task is %s; want stopped", got.State)
	}
	if n := countEvents(t, s); n <= before {
		t.Errorf("events: %d before, %d after; want the recovered write's event", before, n)
	}
}
