package applog

import (
	"bufio"
	"container/heap"
	"errors"
	"io"

	"github.com/cutover/cutover/internal/runtime"
)

// maxLine is the longest line ReadRecords joins from partial records;
// a longer one is passed on in parts.
const maxLine = 64 << 10

// ReadRecords passes each line of task's output in r, records as
// runtime.LogLine writes them, to fn. Partial records of a stream are
// joined (up to maxLine) into the line they belong to, which has the
// time of its first part. A line that is not a record is passed with
// an unknown time.
func ReadRecords(r io.Reader, task string, fn func(Line) error) error {
	br := bufio.NewReaderSize(r, 2*runtime.MaxLogRecord)
	open := map[string]*Line{} // a stream's line waiting for its end
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil // a line that is not a record: in parts
		}
		if len(raw) > 0 {
			if ferr := joinRecord(raw, task, open, fn); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			for _, stream := range []string{runtime.Stdout, runtime.Stderr} {
				if l := open[stream]; l != nil {
					if ferr := fn(*l); ferr != nil {
						return ferr
					}
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// joinRecord adds the record raw (newline included) to the open line of
// its stream, passing complete lines to fn.
func joinRecord(raw []byte, task string, open map[string]*Line, fn func(Line) error) error {
	if raw[len(raw)-1] == '\n' {
		raw = raw[:len(raw)-1]
	}
	rec, ok := runtime.ParseLogRecord(raw)
	if !ok {
		rec = runtime.LogLine{Stream: runtime.Stdout, Text: raw}
	}
	l := open[rec.Stream]
	if l == nil {
		l = &Line{Time: rec.Time, Task: task, Stream: rec.Stream}
	}
	l.Text += string(rec.Text)
	if rec.Partial && len(l.Text) < maxLine {
		open[rec.Stream] = l
		return nil
	}
	delete(open, rec.Stream)
	return fn(*l)
}

// Merge merges streams, each in time order, into one in time order.
// Lines of the same time keep the order of their streams.
func Merge(streams [][]Line) []Line {
	h := &mergeHeap{}
	n := 0
	for i, s := range streams {
		n += len(s)
		if len(s) > 0 {
			h.heads = append(h.heads, head{stream: i})
		}
	}
	h.streams = streams
	heap.Init(h)
	out := make([]Line, 0, n)
	for h.Len() > 0 {
		hd := &h.heads[0]
		out = append(out, streams[hd.stream][hd.pos])
		hd.pos++
		if hd.pos == len(streams[hd.stream]) {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return out
}

// head is the next line of one stream.
type head struct{ stream, pos int }

type mergeHeap struct {
	streams [][]Line
	heads   []head
}

func (h *mergeHeap) Len() int { return len(h.heads) }
func (h *mergeHeap) Less(i, j int) bool {
	a, b := h.heads[i], h.heads[j]
	ta, tb := h.streams[a.stream][a.pos].Time, h.streams[b.stream][b.pos].Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.stream < b.stream
}
func (h *mergeHeap) Swap(i, j int) { h.heads[i], h.heads[j] = h.heads[j], h.heads[i] }
func (h *mergeHeap) Push(x any)    { h.heads = append(h.heads, x.(head)) }
func (h *mergeHeap) Pop() any {
	last := h.heads[len(h.heads)-1]
	h.heads = h.heads[:len(h.heads)-1]
	return last
}
