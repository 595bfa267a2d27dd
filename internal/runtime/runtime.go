// Package runtime runs an app's tasks, the way ECS runs them: each task is
// one running instance of a revision with an address the load balancer can
// reach. A Driver starts, watches, stops and re-adopts tasks; the process
// driver (package runtime/process) is the embedded default, the docker
// driver (package runtime/docker) uses a Docker Engine.
//
// Invariants every driver keeps:
//   - a task outlives the cutover process that started it, and a new
//     Driver value finds it again through List (re-adoption);
//   - Stop sends SIGTERM, waits up to the stop timeout, then SIGKILLs;
//   - no two live tasks get the same host port.
package runtime

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// Driver is implemented by each runtime. Callers depend on this interface
// only, so a Swarm driver can be added without changing them.
type Driver interface {
	// Start starts a task and returns once it is running (not yet healthy).
	// A task that exits at once is reported as ErrStartFailed.
	Start(ctx context.Context, spec TaskSpec) (Task, error)
	// Stop stops a task gracefully: SIGTERM, then SIGKILL after timeout
	// (spec.StopTimeout when timeout is 0). It returns how the task ended.
	Stop(ctx context.Context, id string, timeout time.Duration) (Exit, error)
	// Wait blocks until the task exits, or ctx ends.
	Wait(ctx context.Context, id string) (Exit, error)
	// Logs returns the task's output: the last Tail lines (all when Tail
	// is negative), then, with Follow, new output until ctx ends.
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
	// List returns the tasks this driver knows, including those started by
	// an earlier cutover process and still running (re-adoption), and
	// those that exited since, with their Exit.
	List(ctx context.Context) ([]Task, error)
	// Remove forgets an exited task and deletes what it left (state,
	// container). Logs may be kept.
	Remove(ctx context.Context, id string) error
}

// TaskSpec says how to run one task.
type TaskSpec struct {
	ID       string // unique task id, e.g. "hello-3f2a1c-1"
	App      string
	Revision string

	// process driver: Command runs in Dir (the release directory).
	Command []string
	Dir     string

	// docker driver: Image with optional Entrypoint and Command override.
	Image      string
	Entrypoint []string

	Env map[string]string
	// Port is the port the app listens on inside its task. The process
	// driver allocates a free host port, passes it as PORT and ignores
	// this; the docker driver maps a free host port to it.
	Port        int
	StopTimeout time.Duration // default 30s
	Labels      map[string]string
	Resources   Resources

	// OneOff marks a one-off task (a release command, `cutover run`):
	// Start returns once it has started, without the start check, as its
	// exit, however soon, is its result and not a failed start. A driver
	// that cannot run one-off tasks refuses them with ErrInvalidSpec.
	OneOff bool
	// Stdin, for a one-off task of the process driver, is what the task
	// reads as its standard input (the read end of a pipe); nil: none.
	Stdin *os.File `json:"-"`
}

// Resources are best-effort limits; zero means no limit.
type Resources struct {
	MemoryBytes int64
	CPUs        float64 // e.g. 0.5 = half a core
}

// LogOptions select which output Logs returns.
type LogOptions struct {
	Tail   int
	Follow bool
	// Timestamps returns records (see logline.go) instead of the task's
	// bare output: each line with the time it was read and its stream.
	Timestamps bool
	// Since, when not zero, leaves out lines read before it, and lines
	// whose time is unknown. With Tail as well, a driver may count the
	// Tail lines before leaving lines out: to get the last lines since a
	// time, read all since it (Tail -1) and keep the last ones.
	Since time.Time
}

// Task is a task as a driver reports it.
type Task struct {
	ID       string
	App      string
	Revision string
	Driver   string // "process", "docker"
	// Address is host:port where the load balancer reaches the task.
	Address   string
	PID       int    // process driver
	Container string // docker driver: container id
	Labels    map[string]string
	StartedAt time.Time
	Running   bool
	Exit      *Exit // set once the task has exited
}

// Exit says how a task ended.
type Exit struct {
	Code   int    // exit code; -1 when unknown or killed by a signal
	Signal string // e.g. "SIGKILL" when killed by a signal
	Reason string // human-readable, e.g. "exited with code 3", "killed after stop timeout"
	At     time.Time
}

// Errors drivers return, for callers to match with errors.Is.
var (
	ErrNotFound    = errors.New("task not found")
	ErrStartFailed = errors.New("task failed to start")
	ErrInvalidSpec = errors.New("invalid task spec")
	ErrNoPort      = errors.New("no free port")
)
