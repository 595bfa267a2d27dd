package applog

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
	"github.com/cutover/cutover/internal/store/storetest"
)

// liveLogs is a runtime whose tasks' output grows: Logs with Follow
// gives what a task has (from opts.Since, or only new lines with Tail
// 0), then what is written to it later.
type liveLogs struct {
	mu    sync.Mutex
	lines map[string][]runtime.LogLine
	subs  map[string][]*io.PipeWriter
}

func (l *liveLogs) write(id string, line runtime.LogLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines[id] = append(l.lines[id], line)
	for _, w := range l.subs[id] {
		w.Write(line.AppendRecord(nil))
	}
}

func (l *liveLogs) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b []byte
	if opts.Tail != 0 {
		for _, line := range l.lines[id] {
			if !line.Time.Before(opts.Since) {
				b = line.AppendRecord(b)
			}
		}
	}
	if !opts.Follow {
		return io.NopCloser(strings.NewReader(string(b))), nil
	}
	pr, pw := io.Pipe()
	l.subs[id] = append(l.subs[id], pw)
	go pw.Write(b)
	return pr, nil
}

// TestFollow: following gives each task's new lines in time order, not
// its past again, and the lines of a task that starts meanwhile.
func TestFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		st := storetest.Open(t)
		st.PutApp(ctx, store.App{Name: "hello", DesiredCount: 2})
		st.CreateRevision(ctx, store.Revision{App: "hello"})
		st.PutTask(ctx, store.Task{ID: "a", App: "hello", Revision: "hello-r1", State: store.TaskHealthy})
		logs := &liveLogs{lines: map[string][]runtime.LogLine{}, subs: map[string][]*io.PipeWriter{}}
		say := func(id, text string) {
			logs.write(id, runtime.LogLine{Time: time.Now(), Stream: runtime.Stdout, Text: []byte(text)})
		}
		say("a", "old")

		var mu sync.Mutex
		var got []Line
		done := make(chan error)
		go func() {
			done <- New(st, logs).Stream(ctx, "hello", Options{Tail: 0, Follow: true}, func(ls []Line) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, ls...)
				return nil
			})
		}()
		time.Sleep(time.Second)
		say("a", "one")
		time.Sleep(100 * time.Millisecond)
		st.PutTask(ctx, store.Task{ID: "b", App: "hello", Revision: "hello-r1", State: store.TaskRunning})
		time.Sleep(time.Second)
		say("b", "two")
		time.Sleep(100 * time.Millisecond)
		say("a", "three")
		time.Sleep(2 * time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := "a:one b:two a:three"; texts(got) != want {
			t.Errorf("followed %q, want %q", texts(got), want)
		}
	})
}
