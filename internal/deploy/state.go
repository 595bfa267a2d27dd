package deploy

import (
	"slices"
	"time"

	"github.com/cutover/cutover/internal/config"
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
	name    string
	cfg     config.App // the app's configuration: listeners, count, deploy settings
	current string     // the revision serving production, "" before the first deployment
	color   string     // the target group the current revision runs in

	sets []*taskSet
	// prod maps a color to its production weight; test is the color the
	// test listener forwards to.
	prod map[string]int
	test string

	run *run // the active deployment, nil when none
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
	// consecutive counts those since the last task that became healthy,
	// and delays the next start (crash-loop back-off).
	failures    int
	consecutive int
	notBefore   time.Time
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

// backoff is the delay before the next start after n consecutive task
// failures: 1s, 2s, 4s, ... at most 1m.
func backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return min(time.Second<<min(n-1, 6), time.Minute)
}
