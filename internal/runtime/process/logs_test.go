package process

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

func readAll(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading logs: %v", err)
	}
	return string(data)
}

func logs(t *testing.T, d *Driver, id string, opts runtime.LogOptions) string {
	t.Helper()
	rc, err := d.Logs(t.Context(), id, opts)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, rc)
}

// nextLine reads lines from sc until one contains want.
func nextLine(t *testing.T, sc *bufio.Scanner, want string) {
	t.Helper()
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return
		}
	}
	t.Fatalf("followed logs ended (%v) before a line with %.40q", sc.Err(), want)
}

func TestLogsTailOfExitedTask(t *testing.T) {
	d := newDriver(t, Options{StartCheck: 50 * time.Millisecond})
	start(t, d, exiterSpec(t, "lines-1", "-lines", "10", "-after", "1s"))
	if _, err := d.Wait(t.Context(), "lines-1"); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for i := 1; i <= 10; i++ {
		all.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	tests := []struct {
		name string
		opts runtime.LogOptions
		want string
	}{
		{"tail 3", runtime.LogOptions{Tail: 3}, "line 8\nline 9\nline 10\n"},
		{"tail 1", runtime.LogOptions{Tail: 1}, "line 10\n"},
		{"tail more than there is", runtime.LogOptions{Tail: 50}, all.String()},
		{"all", runtime.LogOptions{Tail: -1}, all.String()},
		{"none", runtime.LogOptions{Tail: 0}, ""},
		{"follow of an exited task ends", runtime.LogOptions{Tail: 2, Follow: true}, "line 9\nline 10\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logs(t, d, "lines-1", tt.opts); got != tt.want {
				t.Errorf("Logs(%+v) = %q, want %q", tt.opts, got, tt.want)
			}
		})
	}
}

func TestLogsFollow(t *testing.T) {
	d := newDriver(t, Options{})
	task := start(t, d, appSpec(t, "web-1"))
	mustGet(t, task.Address, "/log?line=first")
	mustGet(t, task.Address, "/log?line=second")
	waitForLog(t, d, "web-1", "second")

	if got := logs(t, d, "web-1", runtime.LogOptions{Tail: 2}); got != "first\nsecond\n" {
		t.Errorf("Logs(Tail 2) = %q", got)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rc, err := d.Logs(ctx, "web-1", runtime.LogOptions{Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(rc)
	nextLine(t, sc, "second")
	mustGet(t, task.Address, "/log?line=third")
	nextLine(t, sc, "third")
	rc.Close()

	// A follower of a running task ends with the task.
	rc, err = d.Logs(ctx, "web-1", runtime.LogOptions{Tail: 0, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); !strings.Contains(got, "graceful shutdown") {
		t.Errorf("followed logs until exit = %q, want the shutdown", got)
	}
	if ctx.Err() != nil {
		t.Error("follow did not end when the task exited")
	}
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	d := newDriver(t, Options{})
	start(t, d, appSpec(t, "web-1"))
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := d.Logs(ctx, "web-1", runtime.LogOptions{Tail: -1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(rc)
	nextLine(t, sc, "listening on")
	cancel()
	for sc.Scan() {
	}
	if err := sc.Err(); err != nil {
		t.Errorf("followed logs ended with %v, want EOF", err)
	}
	rc.Close()
	if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestLogRotation(t *testing.T) {
	d := newDriver(t, Options{LogMaxBytes: 2048, LogCheckInterval: 20 * time.Millisecond})
	task := start(t, d, appSpec(t, "web-1"))
	path := logPath(d.opts.StateDir, "web-1")
	waitForLog(t, d, "web-1", "listening on")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	follow, err := d.Logs(ctx, "web-1", runtime.LogOptions{Tail: 0, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Close()
	sc := bufio.NewScanner(follow)
	sc.Buffer(nil, 1<<20)

	// Each big line is one write that takes the log over the limit; the
	// test writes nothing more until the rotation is seen, so no output
	// falls into copytruncate's gap.
	big1, big2 := "A"+strings.Repeat("a", 3000), "B"+strings.Repeat("b", 3000)
	mustGet(t, task.Address, "/log?line="+url.QueryEscape(big1))
	waitForRotation(t, path, 1, 2048)
	mustGet(t, task.Address, "/log?line=after-first-rotation")
	mustGet(t, task.Address, "/log?line="+url.QueryEscape(big2))
	waitForRotation(t, path, 2, 2048)
	mustGet(t, task.Address, "/log?line=after-second-rotation")

	for _, want := range []string{big1, "after-first-rotation", big2, "after-second-rotation"} {
		nextLine(t, sc, want)
	}
	if got := logs(t, d, "web-1", runtime.LogOptions{Tail: 2}); got != big2+"\nafter-second-rotation\n" {
		t.Errorf("Logs(Tail 2) across a rotation = %.40q...", got)
	}
	older, _ := os.ReadFile(rotatedPath(path, 2))
	if !bytes.Contains(older, []byte(big1)) {
		t.Errorf("%s does not hold the first big line", rotatedPath(path, 2))
	}
	current, _ := os.ReadFile(path)
	first, _, _ := bytes.Cut(current, []byte("\n"))
	if rec, ok := runtime.ParseLogRecord(first); bytes.IndexByte(current, 0) >= 0 || !ok || string(rec.Text) != "after-second-rotation" {
		t.Errorf("log after truncation = %q, want the task's next writes from offset 0", current)
	}
	if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitForRotation waits until the log at path has been rotated into
// path.<n> and truncated below maxBytes.
func waitForRotation(t *testing.T, path string, n int, maxBytes int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat(rotatedPath(path, n))
		fi, err2 := os.Stat(path)
		if err == nil && err2 == nil && fi.Size() <= maxBytes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not rotated into .%d", path, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRotateLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "task.log")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(data)
	}

	write("small\n")
	if rotated, err := rotateLog(path, 10); rotated || err != nil {
		t.Fatalf("rotateLog of a small log = %v, %v; want no rotation", rotated, err)
	}
	for _, content := range []string{"first log\n", "second log\n", "third log\n", "fourth log\n"} {
		write(content)
		if rotated, err := rotateLog(path, 5); !rotated || err != nil {
			t.Fatalf("rotateLog = %v, %v; want a rotation", rotated, err)
		}
	}
	want := map[string]string{
		path:                 "",
		rotatedPath(path, 1): "fourth log\n",
		rotatedPath(path, 2): "third log\n",
		rotatedPath(path, 3): "second log\n",
	}
	for p, w := range want {
		if got := read(p); got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	if _, err := os.Stat(rotatedPath(path, 4)); err == nil {
		t.Errorf("more than %d rotated files are kept", logKeep)
	}
	if err := removeLogs(path); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left after removeLogs: %v", entries)
	}
}

func TestTailOffset(t *testing.T) {
	tests := []struct {
		data      string
		n         int
		want      string
		wantLines int
	}{
		{"", 3, "", 0},
		{"a\nb\nc\n", 2, "b\nc\n", 2},
		{"a\nb\nc\n", 5, "a\nb\nc\n", 3},
		{"a\nb\nc", 1, "c", 1},
		{"a\nb\nc", 2, "b\nc", 2},
		{"only", 1, "only", 1},
		{"\n\n", 1, "\n", 1},
		{"a\nb\n", -1, "a\nb\n", 2},
	}
	for _, tt := range tests {
		start, lines, err := tailOffset(strings.NewReader(tt.data), int64(len(tt.data)), tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.data[start:]; got != tt.want || lines != tt.wantLines {
			t.Errorf("tailOffset(%q, %d) = %q, %d lines; want %q, %d", tt.data, tt.n, got, lines, tt.want, tt.wantLines)
		}
	}
}
