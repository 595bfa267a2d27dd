package applog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// follower follows the output of an app's tasks, old and new.
type follower struct {
	r    *Reader
	app  string
	opts Options
	emit func([]Line) error

	seen map[string]bool // tasks followed (or done with)
	wg   sync.WaitGroup
}

// run follows tasks, each from where its past output ended, and the
// tasks that start after the event with ID after, until ctx ends.
func (f *follower) run(ctx context.Context, tasks []store.Task, ends map[string]pastEnd, after int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer f.wg.Wait()
	defer cancel()
	lines := make(chan Line, 256)
	for _, t := range tasks {
		f.seen[t.ID] = true
		if t.State == store.TaskStopped {
			continue // its output is complete
		}
		f.follow(ctx, t.ID, ends[t.ID].next(f.opts.Since), lines)
	}
	events := f.r.store.Subscribe(ctx, after)
	tick := time.NewTicker(FollowWindow / 4)
	defer tick.Stop()
	var held reorder
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			held.add(l, f.r.now())
		case <-tick.C:
			if due := held.release(f.r.now(), FollowWindow); len(due) > 0 {
				if err := f.emit(due); err != nil {
					return err
				}
			}
		case ev, ok := <-events:
			if !ok {
				return ctx.Err()
			}
			if ev.App == f.app && strings.HasPrefix(ev.Type, "task.") {
				if err := f.followNew(ctx, lines); err != nil {
					return err
				}
			}
		}
	}
}

// followNew follows the app's tasks not followed yet, from their first
// line (or opts.Since).
func (f *follower) followNew(ctx context.Context, lines chan<- Line) error {
	tasks, err := f.r.tasks(ctx, f.app, f.opts)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if f.seen[t.ID] || t.State == store.TaskPending {
			continue // a pending task may not be in the runtime yet
		}
		f.seen[t.ID] = true
		f.follow(ctx, t.ID, runtime.LogOptions{Tail: -1, Since: f.opts.Since}, lines)
	}
	return nil
}

// follow sends the lines of task id's output that from selects, then
// new ones, to lines, until it ends or ctx does.
func (f *follower) follow(ctx context.Context, id string, from runtime.LogOptions, lines chan<- Line) {
	from.Follow, from.Timestamps = true, true
	f.wg.Go(func() {
		rc, err := f.r.logs.Logs(ctx, id, from)
		if err != nil {
			if !errors.Is(err, runtime.ErrNotFound) && ctx.Err() == nil {
				// Said in the stream, so the reader knows why a task is missing.
				l := Line{Time: f.r.now(), Task: id, Stream: runtime.Stderr, Text: fmt.Sprintf("(cutover cannot follow this task's output: %v)", err)}
				select {
				case lines <- l:
				case <-ctx.Done():
				}
			}
			return
		}
		defer rc.Close()
		stop := context.AfterFunc(ctx, func() { rc.Close() })
		defer stop()
		ReadRecords(rc, id, func(l Line) error {
			select {
			case lines <- l:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
}

// next is where following a task goes on after its past output: after
// its last line's time; with new lines only when that time is unknown
// (output without timestamps); from since when it had no lines.
func (e pastEnd) next(since time.Time) runtime.LogOptions {
	switch {
	case !e.last.IsZero():
		return runtime.LogOptions{Tail: -1, Since: e.last.Add(time.Nanosecond)}
	case e.lines > 0:
		return runtime.LogOptions{Tail: 0, Since: since}
	default:
		return runtime.LogOptions{Tail: -1, Since: since}
	}
}

// reorder holds followed lines until they are due.
type reorder struct {
	held []heldLine
}

type heldLine struct {
	line    Line
	arrived time.Time
}

func (o *reorder) add(l Line, now time.Time) {
	o.held = append(o.held, heldLine{l, now})
}

// release returns, in time order, the lines written (or, for a line
// whose time is ahead of this host's clock, received) window or more
// before now; lines of the same time keep the order they came in.
func (o *reorder) release(now time.Time, window time.Duration) []Line {
	cutoff := now.Add(-window)
	var due []Line
	o.held = slices.DeleteFunc(o.held, func(h heldLine) bool {
		if h.line.Time.After(cutoff) && h.arrived.After(cutoff) {
			return false
		}
		due = append(due, h.line)
		return true
	})
	slices.SortStableFunc(due, func(a, b Line) int { return a.Time.Compare(b.Time) })
	return due
}
