package docker

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"

	"github.com/cutover/cutover/internal/runtime"
)

// LogSince is t as the Engine's logs API takes it: Unix seconds with
// nanoseconds; "" for the zero time.
func LogSince(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	ns := strconv.Itoa(t.Nanosecond())
	return strconv.FormatInt(t.Unix(), 10) + "." + "000000000"[len(ns):] + ns
}

// DemuxRecords turns the Engine's multiplexed log stream, read with
// timestamps=true (each message is "<RFC 3339 time> <text>"), into
// records (see runtime.LogLine) with the Engine's times and streams.
// Closing the result closes raw.
func DemuxRecords(raw io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	out := &recordSink{w: pw}
	go func() {
		_, err := stdcopy.StdCopy(out.stream(runtime.Stdout), out.stream(runtime.Stderr), raw)
		pw.CloseWithError(err) // nil: readers see io.EOF
	}()
	return &demuxed{PipeReader: pr, raw: raw}
}

// recordSink writes the records of both streams to w, one at a time.
type recordSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *recordSink) stream(name string) io.Writer {
	return &recordStream{sink: s, name: name}
}

// recordStream turns the messages of one stream into records. stdcopy
// writes one message (one line, or a part of a long one) a Write.
type recordStream struct {
	sink *recordSink
	name string
	last time.Time // of the last message, for a line without a time
	buf  []byte
}

func (r *recordStream) Write(p []byte) (int, error) {
	r.buf = r.buf[:0]
	for rest := p; len(rest) > 0; {
		line, tail, complete := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		if ts, text, ok := bytes.Cut(line, []byte{' '}); ok {
			if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
				r.last, line = t, text
			}
		}
		l := runtime.LogLine{Time: r.last, Stream: r.name, Text: line, Partial: !complete}
		r.buf = l.AppendRecord(r.buf)
	}
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	if _, err := r.sink.w.Write(r.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
