package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store/fulldisk"
)

// TestWritesFailOnFullDiskThenRecover fills the store's file system: a
// write fails with an error (nothing is half-written), and once space is
// back the same Store writes again without being reopened.
func TestWritesFailOnFullDiskThenRecover(t *testing.T) {
	dir := fulldisk.Mount(t, 8<<20)
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
	fulldisk.Fill(t, fill)
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
