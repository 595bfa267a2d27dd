package process

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox"
)

// ErrClosed is returned by a Driver's methods after Close.
var ErrClosed = errors.New("process driver is closed")

// Defaults for Options.
const (
	DefaultPortMin          = 20000
	DefaultPortMax          = 29999
	DefaultStartCheck       = 500 * time.Millisecond
	DefaultLogMaxBytes      = 10 << 20
	DefaultLogCheckInterval = time.Second
	DefaultStopTimeout      = 30 * time.Second
	DefaultLogRetention     = time.Hour
)

// Options configure a Driver. Zero values mean the defaults.
type Options struct {
	// StateDir holds the state file and logs of each task, e.g.
	// <data>/tasks. Required; created if missing.
	StateDir string
	// PortMin and PortMax bound the host ports handed out as PORT.
	// Default 20000-29999.
	PortMin, PortMax int
	// Logger receives the driver's own events. Default slog.Default().
	Logger *slog.Logger
	// StartCheck is how long a new task must stay up to count as started.
	// Default 500ms.
	StartCheck time.Duration
	// LogMaxBytes is the size above which a task's log is rotated.
	// Default 10 MiB; three rotated files are kept.
	LogMaxBytes int64
	// LogCheckInterval is how often the sizes of the logs of running tasks
	// are checked. Default 1s.
	LogCheckInterval time.Duration
	// CgroupParent is a cgroup v2 directory under which the driver may
	// create <CgroupParent>/cutover/<task-id> for resource limits.
	// Default: cutover's own cgroup.
	CgroupParent string
	// Sandbox, when not nil and not off, runs each task in it (see
	// sandbox.go): its own user and namespaces, its release directory
	// read-only.
	Sandbox *sandbox.Sandbox
	// LogRetention is how long the logs of a removed task are kept, for
	// reading an app's recent output. Default 1h.
	LogRetention time.Duration
	// LogWriter is the command of the process that stamps each line of a
	// task's output with the time it was read and its stream (see
	// logwriter.go), e.g. cutover's executable and LogWriterArg. Empty:
	// tasks write straight to their log, without timestamps.
	LogWriter []string
}

func (o Options) withDefaults() Options {
	if o.PortMin == 0 && o.PortMax == 0 {
		o.PortMin, o.PortMax = DefaultPortMin, DefaultPortMax
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartCheck == 0 {
		o.StartCheck = DefaultStartCheck
	}
	if o.LogMaxBytes == 0 {
		o.LogMaxBytes = DefaultLogMaxBytes
	}
	if o.LogCheckInterval == 0 {
		o.LogCheckInterval = DefaultLogCheckInterval
	}
	if o.LogRetention == 0 {
		o.LogRetention = DefaultLogRetention
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.StateDir == "":
		return errors.New("StateDir is required")
	case o.PortMin < 1 || o.PortMax > 65535 || o.PortMin > o.PortMax:
		return fmt.Errorf("port range %d-%d is not within 1-65535 or is empty", o.PortMin, o.PortMax)
	case o.StartCheck < 0:
		return fmt.Errorf("StartCheck %s is negative", o.StartCheck)
	case o.LogMaxBytes < 0:
		return fmt.Errorf("LogMaxBytes %d is negative", o.LogMaxBytes)
	case o.LogCheckInterval < 0:
		return fmt.Errorf("LogCheckInterval %s is negative", o.LogCheckInterval)
	case o.LogRetention < 0:
		return fmt.Errorf("LogRetention %s is negative", o.LogRetention)
	}
	return nil
}

// Driver runs tasks as local processes. It implements runtime.Driver and
// is safe for concurrent use. Close stops its goroutines, not its tasks.
type Driver struct {
	opts  Options
	log   *slog.Logger
	cg    *cgroupV2 // nil when resource limits cannot be applied
	cgErr error     // why cg is nil

	ctx    context.Context // ends with Close; all goroutines stop with it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	tasks    map[string]*task
	starting map[string]bool // ids of tasks being started
	ports    map[int]string  // host port -> id of a live or starting task
	// nextPort is where the next port search begins. It starts at a random
	// port of the range, so two drivers on one host (two test binaries, or
	// a second cutover) rarely pick the same port between check and bind.
	nextPort int
}

var _ runtime.Driver = (*Driver)(nil)

// task is the driver's record of one task. Its fields are guarded by
// Driver.mu.
type task struct {
	st taskState
	// stopReason, once Stop has signalled the task, replaces the Reason of
	// its Exit.
	stopReason string
	// exiting is set once the main process is known to have exited; from
	// then on its pid may be reaped and reused, so it is not signalled.
	exiting bool
	// rotations counts log rotations, so that log followers notice them.
	rotations int
	done      chan struct{} // closed once st.Exit is set
	// outputDone is closed once the task's log writer has written all its
	// output; nil without one, and for tasks adopted from an earlier
	// driver.
	outputDone <-chan struct{}
}

func (t *task) info() runtime.Task {
	var exit *runtime.Exit
	if t.st.Exit != nil {
		e := *t.st.Exit
		exit = &e
	}
	return runtime.Task{
		ID:        t.st.ID,
		App:       t.st.Spec.App,
		Revision:  t.st.Spec.Revision,
		Driver:    "process",
		Address:   address(t.st.Port),
		PID:       t.st.PID,
		Labels:    maps.Clone(t.st.Spec.Labels),
		StartedAt: t.st.StartedAt,
		Running:   t.st.Exit == nil,
		Exit:      exit,
	}
}

// New returns a Driver that keeps its state in opts.StateDir and re-adopts
// the tasks an earlier Driver started there.
func New(opts Options) (*Driver, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("process driver options: %w", err)
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Driver{
		opts:     opts,
		log:      opts.Logger.With("driver", "process"),
		ctx:      ctx,
		cancel:   cancel,
		tasks:    make(map[string]*task),
		starting: make(map[string]bool),
		ports:    make(map[int]string),
		nextPort: opts.PortMin + rand.IntN(opts.PortMax-opts.PortMin+1),
	}
	d.cg, d.cgErr = detectCgroup(opts.CgroupParent)
	if d.cgErr != nil {
		d.log.Debug("cgroup v2 resource limits unavailable", "reason", d.cgErr)
	}

	states, errs := loadStates(opts.StateDir)
	for _, err := range errs {
		d.log.Warn("skipping unreadable task state", "err", err)
	}
	for _, st := range states {
		d.adopt(st)
	}

	d.wg.Add(1)
	go d.rotateLogs()
	return d, nil
}

// Close stops the driver's goroutines (exit watchers, log rotation, log
// followers) and waits for them. Tasks keep running; a new Driver on the
// same StateDir adopts them. Close is idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	return nil
}

// goLocked runs f in a goroutine that Close waits for. It reports false,
// without running f, when the driver is closed. d.mu must be held.
func (d *Driver) goLocked(f func()) bool {
	if d.closed {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

// lookup returns the task with the given id.
func (d *Driver) lookup(id string) (*task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	t, ok := d.tasks[id]
	if !ok {
		return nil, fmt.Errorf("task %s: %w", id, runtime.ErrNotFound)
	}
	return t, nil
}

// exitOf returns the task's Exit once it has exited.
func (d *Driver) exitOf(t *task) (runtime.Exit, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.st.Exit == nil {
		return runtime.Exit{}, false
	}
	return *t.st.Exit, true
}

// Wait blocks until the task exits and returns how it ended.
func (d *Driver) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	t, err := d.lookup(id)
	if err != nil {
		return runtime.Exit{}, err
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, ctx.Err())
	case <-d.ctx.Done():
		return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, ErrClosed)
	}
	exit, _ := d.exitOf(t)
	return exit, nil
}

// List returns every task in the state directory, running and exited,
// oldest first.
func (d *Driver) List(ctx context.Context) ([]runtime.Task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	tasks := make([]runtime.Task, 0, len(d.tasks))
	for _, t := range d.tasks {
		tasks = append(tasks, t.info())
	}
	slices.SortFunc(tasks, func(a, b runtime.Task) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return tasks, nil
}

// Remove forgets an exited task and deletes its state file, logs and
// cgroup. A running task is not removed.
func (d *Driver) Remove(ctx context.Context, id string) error {
	d.mu.Lock()
	t, ok := d.tasks[id]
	switch {
	case d.closed:
		d.mu.Unlock()
		return ErrClosed
	case !ok:
		d.mu.Unlock()
		return fmt.Errorf("removing task %s: %w", id, runtime.ErrNotFound)
	case t.st.Exit == nil:
		d.mu.Unlock()
		return fmt.Errorf("removing task %s: it is still running; stop it first", id)
	}
	delete(d.tasks, id)
	st := t.st
	d.mu.Unlock()

	// The logs stay for Options.LogRetention (see sweepLogs).
	if err := d.deleteState(st); err != nil {
		return fmt.Errorf("removing task %s: %w", id, err)
	}
	return nil
}

// deleteFiles deletes what a task left: state file, logs and cgroup.
func (d *Driver) deleteFiles(st taskState) error {
	if err := removeLogs(logPath(d.opts.StateDir, st.ID)); err != nil {
		return err
	}
	return d.deleteState(st)
}

// deleteState deletes a task's state file and cgroup.
func (d *Driver) deleteState(st taskState) error {
	if err := os.Remove(statePath(d.opts.StateDir, st.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if st.Cgroup != "" {
		if err := os.Remove(st.Cgroup); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.log.Warn("cannot remove task cgroup", "task", st.ID, "cgroup", st.Cgroup, "err", err)
		}
	}
	return nil
}
