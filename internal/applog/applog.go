// Package applog merges the output of an app's tasks into one stream in
// time order, as `heroku logs` and `docker compose logs` do: each line
// with its task, its stream and the time it was read from the task (by
// the process runtime's log writer or the Docker Engine).
//
// Which tasks: the app's tasks that are not stopped, and those that
// stopped at or after Options.Since (without Since, in the last
// RecentlyStopped), of Options.Revision when it is set. Their output
// comes from the runtime (runtime.Driver.Logs with Timestamps); a task
// whose output is gone (a removed container, process logs past their
// retention) is left out.
//
// Order: the past (what Since and Tail select) is read whole from every
// task and merged by time; each task's lines are already in time order,
// and lines of the same time keep the order of the tasks. Following, a
// line is held for FollowWindow after its time and released with the
// others due, in time order: lines of different tasks that reach cutover
// less than FollowWindow after they were written come out in order; a
// later one comes out late, never lost. New tasks (a deployment, a
// scale, a restart) are found through the store's task events and
// followed from their first line.
//
// Lines written before cutover recorded timestamps have an unknown (zero)
// time: they come first, and Since leaves them out.
package applog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// Defaults and bounds.
const (
	// RecentlyStopped is how long ago a task may have stopped to be
	// included when Options.Since is not set.
	RecentlyStopped = time.Hour
	// MaxPast is the most lines of the past one call returns: the last
	// ones, as with Tail. It bounds the memory a call holds (each task's
	// lines are read whole, up to twice this many kept at a time).
	MaxPast = 10_000
	// FollowWindow is how long a followed line is held to be ordered
	// with the lines of other tasks.
	FollowWindow = 500 * time.Millisecond
)

// Line is one line of an app's output.
type Line struct {
	Time   time.Time `json:"time"` // zero: unknown
	Task   string    `json:"task"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Text   string    `json:"text"`
}

// Options select the lines.
type Options struct {
	Since    time.Time // zero: all
	Revision string    // a revision id of the app; "": all
	Tail     int       // the last Tail lines of the past; negative: all (up to MaxPast)
	Follow   bool      // then new lines until ctx ends
}

// TaskLogs gives a task's output; runtime.Driver implements it.
type TaskLogs interface {
	Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error)
}

// Reader reads the merged output of apps.
type Reader struct {
	store *store.Store
	logs  TaskLogs
	now   func() time.Time
}

// New returns a Reader of the tasks in st, whose output logs gives.
func New(st *store.Store, logs TaskLogs) *Reader {
	return &Reader{store: st, logs: logs, now: time.Now}
}

// ErrBadRequest matches (errors.Is) an option that is not valid; the
// error's text says which and what is.
var ErrBadRequest = errors.New("bad request")

// badRequest is an error that is ErrBadRequest with its own text.
type badRequest string

func (e badRequest) Error() string        { return string(e) }
func (e badRequest) Is(target error) bool { return target == ErrBadRequest }

func badRequestf(format string, args ...any) error {
	return badRequest(fmt.Sprintf(format, args...))
}

// Stream passes the lines of app's tasks that opts select to emit, in
// batches in time order: the past, then, with opts.Follow, new lines
// until ctx ends. An unknown app or revision is store.ErrNotFound.
func (r *Reader) Stream(ctx context.Context, app string, opts Options, emit func([]Line) error) error {
	if _, err := r.store.GetApp(ctx, app); err != nil {
		return fmt.Errorf("reading the logs of app %s: %w", app, err)
	}
	if opts.Revision != "" {
		rev, err := r.revision(ctx, app, opts.Revision)
		if err != nil {
			return err
		}
		opts.Revision = rev
	}
	// Taken before the tasks are listed, so no task started meanwhile is
	// missed when following.
	after, err := r.store.LastEventID(ctx)
	if err != nil {
		return fmt.Errorf("reading the logs of app %s: %w", app, err)
	}
	tasks, err := r.tasks(ctx, app, opts)
	if err != nil {
		return err
	}
	past, ends, err := r.past(ctx, tasks, opts)
	if err != nil {
		return err
	}
	if len(past) > 0 {
		if err := emit(past); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	f := &follower{r: r, app: app, opts: opts, emit: emit, seen: map[string]bool{}}
	return f.run(ctx, tasks, ends, after)
}

// revRE is a revision as people type it: 3, r3 or hello-r3.
var revRE = regexp.MustCompile(`^(?:(.+)-)?r?([0-9]+)$`)

// revision returns the id of app's revision named rev.
func (r *Reader) revision(ctx context.Context, app, rev string) (string, error) {
	m := revRE.FindStringSubmatch(rev)
	if m == nil || (m[1] != "" && m[1] != app) {
		return "", badRequestf("revision %q is not one of app %s's: give its number, r<number> or %s-r<number> (cutover history %s lists them)", rev, app, app, app)
	}
	n, err := strconv.Atoi(m[2])
	if err != nil || n < 1 {
		return "", badRequestf("revision %q is not one of app %s's: revisions count from 1", rev, app)
	}
	id := app + "-r" + strconv.Itoa(n)
	if _, err := r.store.GetRevision(ctx, id); err != nil {
		return "", fmt.Errorf("app %s has no revision %s (cutover history %s lists them): %w", app, id, app, err)
	}
	return id, nil
}

// tasks returns the app's tasks whose output opts select, oldest first.
func (r *Reader) tasks(ctx context.Context, app string, opts Options) ([]store.Task, error) {
	all, err := r.store.ListTasks(ctx, store.TaskFilter{App: app, Revision: opts.Revision})
	if err != nil {
		return nil, fmt.Errorf("listing the tasks of app %s: %w", app, err)
	}
	stoppedSince := opts.Since
	if stoppedSince.IsZero() {
		stoppedSince = r.now().Add(-RecentlyStopped)
	}
	var out []store.Task
	for _, t := range all {
		if t.State != store.TaskStopped || !t.StoppedAt.Before(stoppedSince) {
			out = append(out, t)
		}
	}
	return out, nil
}

// past reads the output of tasks that opts select and merges it; ends
// has where each task's past output ended.
func (r *Reader) past(ctx context.Context, tasks []store.Task, opts Options) ([]Line, map[string]pastEnd, error) {
	keep := MaxPast
	if opts.Tail >= 0 {
		keep = min(opts.Tail, MaxPast)
	}
	streams := make([][]Line, 0, len(tasks))
	ends := make(map[string]pastEnd)
	for _, t := range tasks {
		lines, end, err := r.read(ctx, t.ID, runtime.LogOptions{Tail: -1, Since: opts.Since, Timestamps: true}, keep)
		if err != nil {
			return nil, nil, err
		}
		ends[t.ID] = end
		streams = append(streams, lines)
	}
	merged := Merge(streams)
	return merged[max(0, len(merged)-keep):], ends, nil
}

// pastEnd is where the past output of a task ended: how many lines it
// had and the time of the last one.
type pastEnd struct {
	lines int
	last  time.Time
}

// read returns the last keep lines of task id's output, none when its
// output is gone, and where it ended.
func (r *Reader) read(ctx context.Context, id string, opts runtime.LogOptions, keep int) ([]Line, pastEnd, error) {
	var end pastEnd
	rc, err := r.logs.Logs(ctx, id, opts)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, end, nil
	}
	if err != nil {
		return nil, end, fmt.Errorf("reading the logs of task %s: %w", id, err)
	}
	defer rc.Close()
	var lines []Line
	err = ReadRecords(rc, id, func(l Line) error {
		end.lines++
		end.last = l.Time
		if keep == 0 {
			return nil
		}
		if len(lines) == 2*keep { // drop the oldest half at once
			lines = slices.Delete(lines, 0, keep)
		}
		lines = append(lines, l)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		return nil, end, fmt.Errorf("reading the logs of task %s: %w", id, err)
	}
	return lines[max(0, len(lines)-keep):], end, nil
}
