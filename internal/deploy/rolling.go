package deploy

import (
	"errors"
	"fmt"
)

// ErrStuckRolling is the ECS service event for a rolling configuration
// under which the scheduler can neither start nor stop a single task.
var ErrStuckRolling = errors.New("unable to stop or start tasks during a deployment because of the service deployment configuration")

// RollingBounds returns ECS's bounds for a rolling update of desired
// tasks: at most maxTasks tasks running or starting (maxPercent of
// desired, rounded down) and at least minHealthy tasks healthy
// (minHealthyPercent of desired, rounded up). It fails with
// ErrStuckRolling when neither bound lets one task be started or stopped.
func RollingBounds(desired, minHealthyPercent, maxPercent int) (maxTasks, minHealthy int, err error) {
	maxTasks = desired * maxPercent / 100
	minHealthy = (desired*minHealthyPercent + 99) / 100
	if desired > 0 && maxTasks <= desired && minHealthy >= desired {
		return maxTasks, minHealthy, fmt.Errorf("%w (desired %d, min_healthy_percent %d → %d, max_percent %d → %d)",
			ErrStuckRolling, desired, minHealthyPercent, minHealthy, maxPercent, maxTasks)
	}
	return maxTasks, minHealthy, nil
}

// RollingCounts is what a rolling update sees at one moment.
type RollingCounts struct {
	Desired    int // the service's task count
	MaxTasks   int // from RollingBounds
	MinHealthy int // from RollingBounds

	Live int // tasks of both revisions not yet stopped, draining ones included
	// Serving counts the healthy tasks that stay once the stops already
	// decided are done: per revision, min(healthy, wanted).
	Serving   int
	NewWanted int // tasks of the new revision wanted so far
	OldWanted int // tasks of the old revision wanted so far
	// OldIdle counts wanted old tasks that are not healthy (starting,
	// unhealthy): stopping them costs no serving task.
	OldIdle int
}

// RollingStep returns how many tasks of the new revision to add to those
// wanted and how many of the old revision to give up, ECS style: start
// while live tasks stay within MaxTasks, stop while serving tasks stay at
// or above MinHealthy. Old tasks that are not healthy can always go (the
// scheduler stops those first).
func RollingStep(c RollingCounts) (start, stop int) {
	start = min(c.Desired-c.NewWanted, c.MaxTasks-c.Live)
	start = max(start, 0)
	stop = min(c.OldWanted, c.OldIdle+max(c.Serving-c.MinHealthy, 0))
	stop = max(stop, 0)
	return start, stop
}

// CircuitBreakerThreshold is the number of failed tasks that fails a
// rolling deployment (and a blue/green Install): ECS's
// clamp(ceil(0.5 × desired), 3, 200).
func CircuitBreakerThreshold(desired int) int {
	return min(max((desired+1)/2, 3), 200)
}
