package process

import (
	"bytes"
	"io"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// maxLegacyLine is the longest line of a log without timestamps that
// logText holds back waiting for its newline.
const maxLegacyLine = 1 << 20

// logText turns the lines of a log file, as they are written to it, into
// what Logs returns: the task's own output or, with opts.Timestamps,
// records; without the records before opts.Since.
//
// A line that is not a record was written by a task started before its
// driver had a log writer (or without one). It passes as it is; as a
// record it has an unknown (zero) time in the tail, which opts.Since
// leaves out, and the time it is read once live is set, when following.
type logText struct {
	w    io.Writer
	opts runtime.LogOptions
	now  func() time.Time
	live bool

	pending []byte // a line without its newline yet
	out     []byte
}

func newLogText(w io.Writer, opts runtime.LogOptions, now func() time.Time) *logText {
	return &logText{w: w, opts: opts, now: now}
}

func (t *logText) Write(p []byte) (int, error) {
	t.pending = append(t.pending, p...)
	rest := t.pending
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		t.line(rest[:i], false)
		rest = rest[i+1:]
	}
	if len(rest) > maxLegacyLine {
		t.line(rest, true)
		rest = nil
	}
	t.pending = append(t.pending[:0], rest...)
	if err := t.send(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes a last line that has no newline.
func (t *logText) flush() error {
	if len(t.pending) > 0 {
		t.line(t.pending, true)
		t.pending = t.pending[:0]
	}
	return t.send()
}

func (t *logText) send() error {
	if len(t.out) == 0 {
		return nil
	}
	_, err := t.w.Write(t.out)
	t.out = t.out[:0]
	return err
}

// line adds one line of the log to the output; partial: it had no
// newline.
func (t *logText) line(b []byte, partial bool) {
	l, ok := runtime.ParseLogRecord(b)
	if !ok {
		l = runtime.LogLine{Stream: runtime.Stdout, Text: b, Partial: partial}
		if t.live {
			l.Time = t.now()
		}
	}
	if !t.opts.Since.IsZero() && l.Time.Before(t.opts.Since) {
		return
	}
	if t.opts.Timestamps {
		t.out = l.AppendRecord(t.out)
	} else {
		t.out = l.AppendText(t.out)
	}
}
