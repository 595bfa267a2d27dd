package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// fakeClock returns 1s, 2s, 3s... after base, one step a call.
func fakeClock(base time.Time) func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return base.Add(time.Duration(n) * time.Second)
	}
}

func TestWriteRecords(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("x", runtime.MaxLogRecord+10)
	tests := []struct {
		name   string
		stdout string
		want   []string // records, time as the clock's step
	}{
		{"lines", "one\ntwo\n", []string{"1 stdout F one", "2 stdout F two"}},
		{"no newline at the end", "one\ntwo", []string{"1 stdout F one", "2 stdout P two"}},
		{"empty line", "\n", []string{"1 stdout F "}},
		{"long line split", long + "\n", []string{"1 stdout P " + long[:runtime.MaxLogRecord], "2 stdout F " + long[runtime.MaxLogRecord:]}},
		{"nothing", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			writeRecords(strings.NewReader(tt.stdout), strings.NewReader(""), &out, fakeClock(base))
			var got []string
			for rec := range strings.Lines(out.String()) {
				l, ok := runtime.ParseLogRecord([]byte(strings.TrimSuffix(rec, "\n")))
				if !ok {
					t.Fatalf("not a record: %q", rec)
				}
				step := int(l.Time.Sub(base) / time.Second)
				p := "F"
				if l.Partial {
					p = "P"
				}
				got = append(got, strings.Join([]string{string(rune('0' + step)), l.Stream, p, string(l.Text)}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("records:\n%.200q\nwant:\n%.200q", got, tt.want)
			}
		})
	}
}

// TestWriteRecordsBothStreams: stdout and stderr lines are told apart,
// and the file's records are in time order.
func TestWriteRecordsBothStreams(t *testing.T) {
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		writeRecords(outR, errR, &buf, time.Now)
		close(done)
	}()
	io.WriteString(outW, "to stdout\n")
	io.WriteString(errW, "to stderr\n")
	io.WriteString(outW, "stdout again\n")
	outW.Close()
	errW.Close()
	<-done

	var lines []runtime.LogLine
	for rec := range strings.Lines(buf.String()) {
		l, ok := runtime.ParseLogRecord([]byte(strings.TrimSuffix(rec, "\n")))
		if !ok {
			t.Fatalf("not a record: %q", rec)
		}
		lines = append(lines, l)
	}
	want := map[string]string{"to stdout": "stdout", "to stderr": "stderr", "stdout again": "stdout"}
	if len(lines) != len(want) {
		t.Fatalf("records %q, want 3", buf.String())
	}
	for i, l := range lines {
		if want[string(l.Text)] != l.Stream {
			t.Errorf("%q is on %s, want %s", l.Text, l.Stream, want[string(l.Text)])
		}
		if i > 0 && l.Time.Before(lines[i-1].Time) {
			t.Errorf("record %d is older than the one before it:\n%s", i, buf.String())
		}
	}
}

func TestLogText(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 2, 3, 4, s, 0, time.UTC) }
	rec := func(s int, stream, text string, partial bool) string {
		return string(runtime.LogLine{Time: at(s), Stream: stream, Text: []byte(text), Partial: partial}.AppendRecord(nil))
	}
	file := rec(1, "stdout", "one", false) + rec(2, "stderr", "two ", true) + rec(3, "stderr", "halves", false) + rec(4, "stdout", "four", false)
	tests := []struct {
		name string
		file string
		opts runtime.LogOptions
		live bool
		want string
	}{
		{"text", file, runtime.LogOptions{}, false, "one\ntwo halves\nfour\n"},
		{"records", file, runtime.LogOptions{Timestamps: true}, false, file},
		{"since", file, runtime.LogOptions{Since: at(3)}, false, "halves\nfour\n"},
		{"records since", file, runtime.LogOptions{Since: at(4), Timestamps: true}, false, rec(4, "stdout", "four", false)},
		{"old log as text", "plain one\nplain two", runtime.LogOptions{}, false, "plain one\nplain two"},
		{"old log as records", "plain\n", runtime.LogOptions{Timestamps: true}, false, rec(0, "stdout", "plain", false)[len("2026-01-02T03:04:00.000000000Z"):]},
		{"old log since", "plain\n", runtime.LogOptions{Since: at(1)}, false, ""},
		{"old log followed since", "plain\n", runtime.LogOptions{Since: at(1)}, true, "plain\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := newLogText(&out, tt.opts, func() time.Time { return at(30) })
			w.live = tt.live
			// Written in pieces, as a follower reads a growing file.
			for chunk := range slicesOf(tt.file, 7) {
				if _, err := w.Write([]byte(chunk)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.flush(); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if tt.name == "old log as records" {
				if !strings.HasPrefix(got, "0001-01-01T00:00:00.000000000Z") || !strings.HasSuffix(got, tt.want) {
					t.Errorf("got %q, want a record of unknown (zero) time ending %q", got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// slicesOf yields s in pieces of n bytes.
func slicesOf(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// TestLogsTimestampsAndStreams: a task's output read with Timestamps
// tells stdout from stderr, in the order written, with times of now.
func TestLogsTimestampsAndStreams(t *testing.T) {
	d := newDriver(t, Options{StartCheck: 50 * time.Millisecond})
	before := time.Now()
	start(t, d, exiterSpec(t, "lines-1", "-lines", "3", "-stderr", "-after", "1s"))
	if _, err := d.Wait(t.Context(), "lines-1"); err != nil {
		t.Fatal(err)
	}
	got := logs(t, d, "lines-1", runtime.LogOptions{Tail: -1, Timestamps: true})
	// The two pipes are read concurrently, so only each stream's own
	// order is certain.
	texts := map[string][]string{}
	for rec := range strings.Lines(got) {
		l, ok := runtime.ParseLogRecord([]byte(strings.TrimSuffix(rec, "\n")))
		if !ok {
			t.Fatalf("Logs with Timestamps gave a line that is not a record: %q", rec)
		}
		if l.Time.Before(before) || l.Time.After(time.Now()) {
			t.Errorf("record %q has a time outside the task's life", rec)
		}
		texts[l.Stream] = append(texts[l.Stream], string(l.Text))
	}
	if out := strings.Join(texts["stdout"], ","); out != "line 1,line 2,line 3" {
		t.Errorf("stdout records = %s, want line 1 to 3", out)
	}
	if out := strings.Join(texts["stderr"], ","); out != "err 1,err 2,err 3" {
		t.Errorf("stderr records = %s, want err 1 to 3", out)
	}
	if plain := logs(t, d, "lines-1", runtime.LogOptions{Tail: -1}); strings.Count(plain, "\n") != 6 || strings.Contains(plain, "stdout") {
		t.Errorf("Logs without Timestamps = %q, want the bare output", plain)
	}
}

// TestLogWriterOutlivesSignals: the log writer ignores SIGTERM and ends
// when its task's output is closed, having written all of it.
func TestLogWriterOutlivesSignals(t *testing.T) {
	dir := t.TempDir()
	logFile, err := os.OpenFile(dir+"/t.log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, LogWriterArg)
	cmd.ExtraFiles = []*os.File{outR, errR, logFile}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outR.Close()
	errR.Close()
	io.WriteString(outW, "before\n")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(dir + "/t.log"); bytes.Contains(data, []byte("before")) {
			break // it runs, signals ignored
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the log writer wrote nothing in 10s")
		}
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond) // a signal that killed it would have by now
	io.WriteString(errW, "after\n")
	outW.Close()
	errW.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("log writer: %v", err)
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatal(errors.New("log writer did not end when its pipes closed"))
	}
	data, _ := os.ReadFile(dir + "/t.log")
	if text := plainText(t, data); text != "before\nafter\n" {
		t.Errorf("log = %q, want both lines", data)
	}
}

// TestLogsWithoutLogWriter: a task started without a log writer (as by
// an older cutover) writes its log without timestamps; it reads as
// before, and as records of unknown time, which Since leaves out.
func TestLogsWithoutLogWriter(t *testing.T) {
	d := newDriver(t, Options{StartCheck: 50 * time.Millisecond, LogWriter: []string{}})
	start(t, d, exiterSpec(t, "old-1", "-lines", "2", "-after", "1s"))
	if _, err := d.Wait(t.Context(), "old-1"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(logPath(d.opts.StateDir, "old-1"))
	if string(data) != "line 1\nline 2\n" {
		t.Fatalf("log file without a log writer = %q, want the bare output", data)
	}
	if got := logs(t, d, "old-1", runtime.LogOptions{Tail: -1}); got != "line 1\nline 2\n" {
		t.Errorf("Logs = %q, want the bare output", got)
	}
	got := logs(t, d, "old-1", runtime.LogOptions{Tail: 1, Timestamps: true})
	if l, ok := runtime.ParseLogRecord([]byte(strings.TrimSuffix(got, "\n"))); !ok || !l.Time.IsZero() || string(l.Text) != "line 2" {
		t.Errorf("Logs with Timestamps = %q, want a record of unknown time", got)
	}
	if got := logs(t, d, "old-1", runtime.LogOptions{Tail: -1, Since: time.Now().Add(-time.Hour)}); got != "" {
		t.Errorf("Logs since an hour ago = %q, want nothing: the times are unknown", got)
	}
}
