package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// logSink is an execution's log: a file that followers read while it
// grows. Writers append; each write wakes the followers.
type logSink struct {
	f *os.File

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each write
	closed  bool
}

func openLog(path string) (*logSink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the execution log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the execution log: %w", err)
	}
	return &logSink{f: f, changed: make(chan struct{})}, nil
}

func (l *logSink) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	n, err := l.f.Write(b)
	close(l.changed)
	l.changed = make(chan struct{})
	return n, err
}

// printf writes a line of cutover's own, stamped like CodeBuild's.
func (l *logSink) printf(format string, args ...any) {
	fmt.Fprintf(l, "[Container] %s %s\n", time.Now().UTC().Format("2006/01/02 15:04:05.000000"), fmt.Sprintf(format, args...))
}

// wait returns a channel closed at the next write or at close.
func (l *logSink) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *logSink) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.changed)
	return l.f.Close()
}

func (l *logSink) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// StreamLog copies an execution's log to w. With follow, it keeps
// copying what the execution writes until it ends or ctx does.
func (p *Pipeline) StreamLog(ctx context.Context, executionID string, w io.Writer, follow bool) error {
	e, err := p.store.GetExecution(ctx, executionID)
	if err != nil {
		return err
	}
	f, err := os.Open(p.LogPath(e.App, e.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil // not started yet, or nothing written
	}
	if err != nil {
		return fmt.Errorf("reading the log of %s: %w", executionID, err)
	}
	defer f.Close()

	var sink *logSink
	if follow {
		p.mu.Lock()
		if x := p.lineLocked(e.App).running[e.ID]; x != nil {
			sink = x.log
		}
		p.mu.Unlock()
	}
	for {
		var changed <-chan struct{}
		if sink != nil {
			changed = sink.wait() // before the copy, so no write is missed
		}
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("copying the log of %s: %w", executionID, err)
		}
		if fl, ok := w.(interface{ Flush() }); ok {
			fl.Flush()
		}
		if sink == nil || sink.isClosed() {
			if sink != nil {
				_, err := io.Copy(w, f) // what came between the copy and the close
				return err
			}
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// running returns the execution if it runs here.
func (p *Pipeline) running(app, id string) *execution {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lineLocked(app).running[id]
}
