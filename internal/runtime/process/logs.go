package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// followInterval is how often a followed log is checked for new output.
const followInterval = 100 * time.Millisecond

// Logs returns the task's output (stdout and stderr interleaved): the last
// opts.Tail lines, all when negative, including rotated files; then, with
// opts.Follow, new output until ctx ends, the reader is closed, or the
// task has exited and its output is read to the end.
func (d *Driver) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	path := logPath(d.opts.StateDir, id)
	t, err := d.lookup(id)
	if errors.Is(err, runtime.ErrNotFound) && taskIDPattern.MatchString(id) {
		if _, statErr := os.Stat(path); statErr == nil {
			t, err = removedTask(), nil // its logs are kept a while
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading logs of task %s: %w", id, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading logs of task %s: %w", id, err)
	}

	// The tail ends, and following starts, where the log is now.
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading logs of task %s: %w", id, err)
	}
	from := logPos{offset: fi.Size()}

	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	d.mu.Lock()
	from.rotations = t.rotations
	started := d.goLocked(func() {
		defer f.Close()
		defer cancel()
		stopOnClose := context.AfterFunc(d.ctx, cancel)
		defer stopOnClose()
		// A pending write to the pipe returns once ctx ends.
		stopWriter := context.AfterFunc(ctx, func() {
			var err error // the reader sees io.EOF
			if d.ctx.Err() != nil {
				err = ErrClosed
			}
			pw.CloseWithError(err)
		})
		defer stopWriter()
		pw.CloseWithError(d.copyLogs(ctx, t, f, path, from, opts, pw))
	})
	d.mu.Unlock()
	if !started {
		f.Close()
		cancel()
		return nil, ErrClosed
	}
	return &logReader{PipeReader: pr, cancel: cancel}, nil
}

// removedTask stands for a removed task whose logs are still there: it
// has exited.
func removedTask() *task {
	t := &task{done: make(chan struct{})}
	close(t.done)
	return t
}

// logReader stops its log's goroutine when closed.
type logReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (r *logReader) Close() error {
	r.cancel()
	return r.PipeReader.Close()
}

// logPos is a position in a task's log.
type logPos struct {
	offset    int64 // in the current file
	rotations int   // the task's rotation count
}

// copyLogs writes the tail of the log in f, up to from, to w and, with
// opts.Follow, what is appended to it afterwards.
func (d *Driver) copyLogs(ctx context.Context, t *task, f *os.File, path string, from logPos, opts runtime.LogOptions, out io.Writer) error {
	offset, rotations := from.offset, from.rotations
	w := newLogText(out, opts, time.Now)
	if err := writeTail(w, f, offset, path, opts.Tail); err != nil {
		return err
	}
	if !opts.Follow {
		return w.flush()
	}
	w.live = true

	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	for {
		var exited bool
		select {
		case <-t.done:
			exited = true
			outputDone(ctx, t)
		default:
		}
		d.mu.Lock()
		rotated := t.rotations - rotations
		rotations = t.rotations
		d.mu.Unlock()

		var err error
		offset, err = copyNew(w, f, path, offset, rotated)
		if err == nil && exited {
			err = w.flush()
		}
		if err != nil || exited {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// copyNew writes what was appended to f after offset and returns the new
// offset. After rotated rotations (or when f shrank) the rest of the old
// output is in the rotated files: path.<rotated> from offset on, then the
// newer ones whole; then f is read from its start.
func copyNew(w io.Writer, f *os.File, path string, offset int64, rotated int) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return offset, err
	}
	size := fi.Size()
	if rotated == 0 && size < offset {
		rotated = 1
	}
	for i := min(rotated, logKeep); i >= 1; i-- {
		if err := copyFrom(w, rotatedPath(path, i), offset); err != nil {
			return offset, err
		}
		offset = 0
	}
	if size <= offset {
		return offset, nil
	}
	n, err := io.Copy(w, io.NewSectionReader(f, offset, size-offset))
	return offset + n, err
}

// copyFrom writes the file at path from offset to its end.
func copyFrom(w io.Writer, path string, offset int64) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

// segment is a byte range of an open log file.
type segment struct {
	r          io.ReaderAt
	start, end int64
}

// writeTail writes the last n lines (all when n < 0) of the log whose
// current file is f, of size bytes, reaching into the rotated files at
// path.1, path.2, ... when f holds fewer lines.
func writeTail(w io.Writer, f *os.File, size int64, path string, n int) error {
	if n == 0 {
		return nil
	}
	var segs []segment // newest first
	need := n
	var r io.ReaderAt = f
	for i := 0; ; i++ {
		start, lines, err := tailOffset(r, size, need)
		if err != nil {
			return err
		}
		segs = append(segs, segment{r, start, size})
		if n > 0 {
			need -= lines
		}
		if need == 0 || i == logKeep {
			break
		}
		older, err := os.Open(rotatedPath(path, i+1))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		defer older.Close()
		fi, err := older.Stat()
		if err != nil {
			return err
		}
		r, size = older, fi.Size()
	}
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if _, err := io.Copy(w, io.NewSectionReader(s.r, s.start, s.end-s.start)); err != nil {
			return err
		}
	}
	return nil
}

// tailOffset returns where the last n lines (all when n < 0) of the first
// size bytes of r begin, and how many lines that is. A final line without
// a newline counts as a line.
func tailOffset(r io.ReaderAt, size int64, n int) (start int64, lines int, err error) {
	if size == 0 {
		return 0, 0, nil
	}
	buf := make([]byte, 32<<10)
	pos := size
	for pos > 0 {
		chunk := min(int64(len(buf)), pos)
		pos -= chunk
		b := buf[:chunk]
		if _, err := r.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := bytes.LastIndexByte(b, '\n'); i >= 0; i = bytes.LastIndexByte(b[:i], '\n') {
			if pos+int64(i) == size-1 {
				continue // ends the last line
			}
			lines++
			if lines == n {
				return pos + int64(i) + 1, lines, nil
			}
		}
	}
	return 0, lines + 1, nil
}

// lastLines returns the task's output in the last n lines of the log at
// path, without timestamps.
func lastLines(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start, _, err := tailOffset(f, fi.Size(), n)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w := newLogText(&out, runtime.LogOptions{}, time.Now)
	if _, err := io.Copy(w, io.NewSectionReader(f, start, fi.Size()-start)); err != nil {
		return nil, err
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
