package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func pragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.w.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenSetsPragmas(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		wantSync string
	}{
		{"default", nil, "1"}, // NORMAL
		{"full sync", []Option{WithFullSync()}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t, tt.opts...)
			if got := pragma(t, s, "journal_mode"); got != "wal" {
				t.Errorf("journal_mode = %q, want wal", got)
			}
			if got := pragma(t, s, "foreign_keys"); got != "1" {
				t.Errorf("foreign_keys = %q, want 1", got)
			}
			if got := pragma(t, s, "synchronous"); got != tt.wantSync {
				t.Errorf("synchronous = %q, want %q", got, tt.wantSync)
			}
			if got := pragma(t, s, "busy_timeout"); got != "5000" {
				t.Errorf("busy_timeout = %q, want 5000", got)
			}
			// Readers cannot write, even by mistake.
			if _, err := s.r.Exec("INSERT INTO events (at, type) VALUES ('x', 'y')"); err == nil {
				t.Error("insert through the read pool succeeded")
			}
		})
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, path := range []string{"", "/tmp/a?mode=ro"} {
		if s, err := Open(context.Background(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	rev := seedApp(t, s, "hello")
	d, err := s.CreateDeployment(ctx, Deployment{App: "hello", ToRevision: rev.ID, Strategy: "blue_green"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTask(ctx, Task{ID: "hello-1", App: "hello", Revision: rev.ID, State: TaskRunning, Handle: "4242"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordWeights(ctx, d.ID, "production", map[string]int{"blue": 90, "green": 10}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Events(ctx, EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	active, err := s2.ActiveDeployments(ctx)
	if err != nil || len(active) != 1 || active[0].ID != d.ID {
		t.Fatalf("ActiveDeployments after reopen = %+v, %v; want [%s]", active, err, d.ID)
	}
	task, err := s2.GetTask(ctx, "hello-1")
	if err != nil || task.Handle != "4242" || task.State != TaskRunning {
		t.Fatalf("GetTask after reopen = %+v, %v", task, err)
	}
	after, err := s2.Events(ctx, EventFilter{})
	if err != nil || len(after) != len(before) || after[len(after)-1].ID != before[len(before)-1].ID {
		t.Fatalf("events after reopen: %d (last %v), want %d", len(after), err, len(before))
	}
	// New events continue the sequence.
	e, err := s2.Append(ctx, Event{Type: "cutover.started"})
	if err != nil || e.ID <= before[len(before)-1].ID {
		t.Fatalf("Append after reopen: id %d, %v; want > %d", e.ID, err, before[len(before)-1].ID)
	}
}

// TestCrashKeepsCommittedWrites kills a process that writes to the store
// with SIGKILL, mid-stream, and checks that a new Store finds every write
// the process reported committed and an intact file.
func TestCrashKeepsCommittedWrites(t *testing.T) {
	if os.Getenv("STORE_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	path := t.TempDir() + "/crash.db"
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsCommittedWrites$")
	cmd.Env = append(os.Environ(), "STORE_CRASH_CHILD="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child prints the ID of each event once Append returned. Kill
	// it while it keeps writing.
	var lastID string
	sc := bufio.NewScanner(stdout)
	for n := 0; n < 50 && sc.Scan(); n++ {
		lastID = sc.Text()
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if lastID == "" {
		t.Fatal("the child wrote nothing")
	}

	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after kill -9: %v", err)
	}
	defer s.Close()
	var check string
	if err := s.r.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	want, err := strconv.ParseInt(lastID, 10, 64)
	if err != nil {
		t.Fatalf("child printed %q: %v", lastID, err)
	}
	events, err := s.Events(ctx, EventFilter{AfterID: want - 1, Types: []string{"crash.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].ID != want {
		t.Fatalf("event %d, reported committed before the kill, is missing (found %d events from there)", want, len(events))
	}
}

func crashChild() {
	ctx := context.Background()
	s, err := Open(ctx, os.Getenv("STORE_CRASH_CHILD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		e, err := s.Append(ctx, Event{Type: "crash.test", Data: []byte(`{"pad":"` + strings.Repeat("x", 500) + `"}`)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(e.ID)
	}
}

func TestConcurrentWritersNeverBusy(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rev := seedApp(t, s, "hello")
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 10 {
		wg.Go(func() {
			for i := range 5 {
				id := fmt.Sprintf("hello-%d-%d", g, i)
				if err := s.PutTask(ctx, Task{ID: id, App: "hello", Revision: rev.ID, State: TaskPending}); err != nil {
					errs <- err
				}
				if _, err := s.SetTaskState(ctx, id, TaskRunning); err != nil {
					errs <- err
				}
				if _, err := s.GetTask(ctx, id); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	tasks, err := s.ListTasks(ctx, TaskFilter{App: "hello", States: []string{TaskRunning}})
	if err != nil || len(tasks) != 50 {
		t.Fatalf("running tasks = %d, %v; want 50", len(tasks), err)
	}
}

func TestErrorsSayWhatWasBeingDone(t *testing.T) {
	s, _ := openTest(t)
	_, err := s.GetDeployment(context.Background(), "nope-d1")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope-d1") {
		t.Fatalf("GetDeployment = %v, want ErrNotFound naming nope-d1", err)
	}
}

// TestTwoStoresOnOneFile has two Stores, standing for two processes,
// increment one counter concurrently: transactions that begin IMMEDIATE
// and a busy timeout make every read-modify-write wait its turn instead
// of failing or losing an update.
func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := context.Background()
	a, path := openTest(t)
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.PutApp(ctx, App{Name: "counter"}); err != nil {
		t.Fatal(err)
	}
	const goroutines, increments = 4, 10
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b} {
		for range goroutines {
			wg.Go(func() {
				for range increments {
					_, err := s.UpdateApp(ctx, "counter", func(app *App) error {
						app.DesiredCount++
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	app, err := b.GetApp(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * goroutines * increments; app.DesiredCount != want {
		t.Fatalf("counter = %d, want %d", app.DesiredCount, want)
	}
}

func TestPanicInUpdateReleasesTheWriter(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "hello")
	func() {
		defer func() { recover() }()
		s.UpdateApp(ctx, "hello", func(a *App) error {
			a.DesiredCount = 7
			panic("bug in a callback")
		})
	}()
	// A writer left in a transaction would make this wait forever; the
	// timeout turns that into a failure.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.PutApp(wctx, App{Name: "next"}); err != nil {
		t.Fatalf("writing after a panicking callback: %v", err)
	}
	if a, _ := s.GetApp(ctx, "hello"); a.DesiredCount != 2 {
		t.Errorf("the panicking update was kept: %+v", a)
	}
}
