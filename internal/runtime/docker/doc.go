// Package docker runs an app's tasks as containers on a Docker Engine, the
// way ECS runs them: one container per task, the app's port published on a
// host port the load balancer reaches.
//
// The Driver keeps no state of its own. Everything it needs to find a task
// again lives in the Engine: the container is named "cutover-<task id>" and
// carries the labels cutover.managed=true, cutover.app, cutover.revision,
// cutover.task and cutover.port. So a new Driver value, in a new cutover
// process, finds the tasks an earlier one started (re-adoption), and one
// Driver value may be used from many goroutines.
//
// Host ports: each task's port is published on Options.HostIP with an empty
// host port, so the Engine picks a free ephemeral port. The Engine never
// hands out a port that another container holds, which is what guarantees
// that no two live tasks share a host port.
//
// Containers run with restart policy "no": when a task dies, cutover's
// scheduler replaces it; Docker must not restart it behind cutover's back.
//
// Exits are reported as the Engine sees them: Exit.Code is the container's
// exit code, 128+n when the process died from signal n (137 for SIGKILL,
// after a stop timeout or an OOM kill), with Exit.Signal naming the signal.
// Task.Labels holds the spec's labels, without the driver's own.
//
// ParseTaskDef reads an ECS task definition (taskdef.json) and TaskDef.TaskSpec
// turns it into the runtime.TaskSpec of the one container cutover runs,
// listing every field it does not support as a warning rather than dropping
// it silently.
package docker
