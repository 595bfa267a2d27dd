package applog

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
	"github.com/cutover/cutover/internal/store/storetest"
)

// fakeLogs serves fixed output per task, records as a driver gives them
// with Timestamps, honouring Since.
type fakeLogs map[string][]runtime.LogLine

func (f fakeLogs) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	lines, ok := f[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	var b []byte
	for _, l := range lines {
		if l.Time.Before(opts.Since) {
			continue
		}
		b = l.AppendRecord(b)
	}
	return io.NopCloser(strings.NewReader(string(b))), nil
}

func TestStream(t *testing.T) {
	ctx := t.Context()
	st := storetest.Open(t)
	now := time.Now()
	if err := st.PutApp(ctx, store.App{Name: "hello", DesiredCount: 2}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := st.CreateRevision(ctx, store.Revision{App: "hello"}); err != nil {
			t.Fatal(err)
		}
	}
	line := func(ago time.Duration, text string) runtime.LogLine {
		return runtime.LogLine{Time: now.Add(-ago), Stream: runtime.Stdout, Text: []byte(text)}
	}
	tasks := []store.Task{
		{ID: "hello-r1-1", App: "hello", Revision: "hello-r1", State: store.TaskStopped, StoppedAt: now.Add(-2 * time.Hour)},
		{ID: "hello-r1-2", App: "hello", Revision: "hello-r1", State: store.TaskStopped, StoppedAt: now.Add(-20 * time.Minute)},
		{ID: "hello-r2-1", App: "hello", Revision: "hello-r2", State: store.TaskHealthy},
		{ID: "hello-r2-2", App: "hello", Revision: "hello-r2", State: store.TaskHealthy},
	}
	for _, task := range tasks {
		if err := st.PutTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	r := New(st, fakeLogs{
		"hello-r1-1": {line(3*time.Hour, "very old")},
		"hello-r1-2": {line(30*time.Minute, "r1 a"), line(25*time.Minute, "r1 b")},
		"hello-r2-1": {line(15*time.Minute, "r2 first"), line(5*time.Minute, "r2 third")},
		"hello-r2-2": {line(10*time.Minute, "r2 second"), line(time.Minute, "r2 fourth")},
	})
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"all, tasks stopped in the last hour", Options{Tail: -1},
			"hello-r1-2:r1 a hello-r1-2:r1 b hello-r2-1:r2 first hello-r2-2:r2 second hello-r2-1:r2 third hello-r2-2:r2 fourth"},
		{"tail", Options{Tail: 2}, "hello-r2-1:r2 third hello-r2-2:r2 fourth"},
		{"since", Options{Tail: -1, Since: now.Add(-12 * time.Minute)}, "hello-r2-2:r2 second hello-r2-1:r2 third hello-r2-2:r2 fourth"},
		{"since takes older stopped tasks", Options{Tail: -1, Since: now.Add(-4 * time.Hour)},
			"hello-r1-1:very old hello-r1-2:r1 a hello-r1-2:r1 b hello-r2-1:r2 first hello-r2-2:r2 second hello-r2-1:r2 third hello-r2-2:r2 fourth"},
		{"revision", Options{Tail: -1, Revision: "r1"}, "hello-r1-2:r1 a hello-r1-2:r1 b"},
		{"revision by id", Options{Tail: -1, Revision: "hello-r2", Since: now.Add(-6 * time.Minute)}, "hello-r2-1:r2 third hello-r2-2:r2 fourth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Line
			err := r.Stream(ctx, "hello", tt.opts, func(ls []Line) error {
				got = append(got, ls...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if texts(got) != tt.want {
				t.Errorf("lines:\n%s\nwant:\n%s", texts(got), tt.want)
			}
		})
	}

	bad := []struct {
		app  string
		opts Options
		want error
	}{
		{"nope", Options{}, store.ErrNotFound},
		{"hello", Options{Revision: "r9"}, store.ErrNotFound},
		{"hello", Options{Revision: "other-r1"}, ErrBadRequest},
		{"hello", Options{Revision: "latest"}, ErrBadRequest},
		{"hello", Options{Revision: "r0"}, ErrBadRequest},
		{"hello", Options{Revision: "99999999999999999999"}, ErrBadRequest},
	}
	for _, b := range bad {
		err := r.Stream(ctx, b.app, b.opts, func([]Line) error { t.Error("lines for a bad request"); return nil })
		if !errors.Is(err, b.want) {
			t.Errorf("Stream(%s, %+v) = %v, want %v", b.app, b.opts, err, b.want)
		}
	}
}
