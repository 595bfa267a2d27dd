package runtime

import (
	"bytes"
	"time"
)

// A task's output with timestamps (LogOptions.Timestamps, and the process
// driver's log files) is a series of records, one a line, in the format
// of the Kubernetes CRI's container logs:
//
//	2026-12-04T19:13:19.123456789Z stdout F GET / 200
//	2026-12-04T19:13:19.200000000Z stderr P the first 16 KiB of a long line
//	2026-12-04T19:13:19.200000000Z stderr F ...and the rest of it
//
// The time is when the line was read from the task (UTC, nanoseconds,
// fixed width, so the records of one file sort as text); the stream is
// stdout or stderr; F ends a line of the task's output, P is part of a
// line that goes on in the next record (a line longer than MaxLogRecord,
// or output that ended without a newline). The text after the tag is the
// task's own bytes, so a task cannot forge the prefix of a record: its
// every newline ends one.

// MaxLogRecord is the longest text of one record; a longer line is split.
const MaxLogRecord = 16 << 10

// LogTimeFormat is the time format of a record.
const LogTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Streams of a record.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// LogLine is one record of a task's output.
type LogLine struct {
	Time    time.Time // zero when unknown (output written without timestamps)
	Stream  string    // Stdout or Stderr
	Text    []byte    // without the newline
	Partial bool      // the line goes on in the next record
}

// AppendRecord appends l as a record, newline included.
func (l LogLine) AppendRecord(b []byte) []byte {
	b = l.Time.UTC().AppendFormat(b, LogTimeFormat)
	b = append(b, ' ')
	if l.Stream == Stderr {
		b = append(b, Stderr...)
	} else {
		b = append(b, Stdout...)
	}
	if l.Partial {
		b = append(b, " P "...)
	} else {
		b = append(b, " F "...)
	}
	b = append(b, l.Text...)
	return append(b, '\n')
}

// AppendText appends the task's own output that l holds: its text and,
// unless it is partial, a newline.
func (l LogLine) AppendText(b []byte) []byte {
	b = append(b, l.Text...)
	if !l.Partial {
		b = append(b, '\n')
	}
	return b
}

// ParseLogRecord parses a record, without its newline. ok is false when
// rec is not a record, e.g. a line of a log written before cutover
// recorded timestamps. l.Text shares rec's memory.
func ParseLogRecord(rec []byte) (l LogLine, ok bool) {
	ts, rest, ok := bytes.Cut(rec, []byte{' '})
	if !ok {
		return LogLine{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return LogLine{}, false
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != Stdout && string(stream) != Stderr) {
		return LogLine{}, false
	}
	if len(rest) < 2 || rest[1] != ' ' || (rest[0] != 'F' && rest[0] != 'P') {
		return LogLine{}, false
	}
	return LogLine{Time: t, Stream: string(stream), Text: rest[2:], Partial: rest[0] == 'P'}, true
}
