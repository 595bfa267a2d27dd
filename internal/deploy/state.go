package deploy

import (
	"slices"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

// Target group colors. Each app has the target groups "<app>-blue" and
// "<app>-green"; whichever runs the current revision is the original
// (blue) task set of the next deployment, the other gets the replacement
// (green), so the roles swap every deployment, as CodeDeploy's do.
const (
	colorBlue  = "blue"
	colorGreen = "green"
)

func otherColor(c string) string {
	if c == colorBlue {
		return colorGreen
	}
	return colorBlue
}

func groupName(app, color string) string { return app + "-" + color }

// appState is the controller's in-memory view of one app. Everything in
// it can be rebuilt from the store (see resume.go). Guarded by
// Controller.mu.
type appState struct {
	name string
	cfg  config.App // the app's configuration: listeners, count, deploy settings
	// routed is the production listener and hosts the load balancer
	// serves the app on: cfg's, except during a deployment that changes
	// them, which applies them when it succeeds.
	routed  config.Listeners
	current string // the revision serving production, "" before the first deployment
	color   string // the target group the current revision runs in

	sets []*taskSet
	// prod maps a color to its production weight; test is the color the
	// test listener forwards to.
	prod map[string]int
	test string

	run *run // the active deployment, nil when none

	// maintenance answers production requests while the app is in
	// maintenance mode; nil: off (maintenance.go).
	maintenance *proxy.FixedResponseConfig

	restarting bool // Restart is replacing the current tasks
	destroyed  bool // Destroy has begun: the count is 0, nothing new starts
}

// taskSet is the tasks of one revision in one target group, and how many
// of them the scheduler keeps.
type taskSet struct {
	rev     store.Revision
	cfg     config.App // the revision's configuration: how to run its tasks
	color   string
	desired int

	// failures counts tasks of this set that failed to start, exited on
	// their own or turned unhealthy (the circuit breaker's count);
	// consecutive counts those, and starts the store refused to record,
	// since a task was last healthy for restartReset, and delays the next
	// start until notBefore (crash-loop back-off). lastErr is the latest
	// failure; announced is the notBefore last reported.
	failures    int
	consecutive int
	notBefore   time.Time
	lastErr     error
	announced   time.Time
	started     int // tasks started, numbers task ids

	tasks []*task
}

// task is one task of a set.
type task struct {
	id    string
	addr  string // set once the runtime started it
	state string // the store's task state
	// stopping is set once the scheduler decided to stop the task: it is
	// deregistered (or never registered) and no longer counts.
	stopping bool
	// assumeHealthy: re-adopted after a restart while healthy.
	assumeHealthy bool
	// healthySince is when the proxy last found t healthy; zero while
	// it is not.
	healthySince time.Time
}

// registered reports whether the proxy should route to t.
func (t *task) registered() bool {
	return !t.stopping && t.addr != "" && t.state != store.TaskPending
}

// counts are a set's tasks by what they are good for.
type counts struct {
	live    int // not stopping
	good    int // live and not unhealthy: serving or on their way
	healthy int // live and healthy
}

func (s *taskSet) counts() counts {
	var c counts
	for _, t := range s.tasks {
		if t.stopping {
			continue
		}
		c.live++
		if t.state != store.TaskUnhealthy {
			c.good++
		}
		if t.state == store.TaskHealthy {
			c.healthy++
		}
	}
	return c
}

func (a *appState) set(revision string) *taskSet {
	for _, s := range a.sets {
		if s.rev.ID == revision {
			return s
		}
	}
	return nil
}

func (a *appState) removeSet(s *taskSet) {
	a.sets = slices.DeleteFunc(a.sets, func(x *taskSet) bool { return x == s })
}

func (a *appState) findTask(id string) (*taskSet, *task) {
	for _, s := range a.sets {
		for _, t := range s.tasks {
			if t.id == id {
				return s, t
			}
		}
	}
	return nil, nil
}

// Restart back-off: the delay before a task set's next start doubles
// from 1s with each failure in a row, up to maxRestartDelay, and resets
// once a task of the set has been healthy for restartReset (Kubernetes'
// CrashLoopBackOff, shorter).
const (
	maxRestartDelay = time.Minute
	restartReset    = time.Minute
)

// backoff is the delay after n failures in a row: 0 for none, base for
// the first, doubling with each one after, at most limit.
func backoff(n int, base, limit time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
