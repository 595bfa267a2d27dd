package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// Stop stops task id the way "docker stop" does: SIGTERM (or the image's
// STOPSIGNAL), then SIGKILL once timeout has passed. A zero timeout means
// the task's own StopTimeout, kept on its container. The Engine counts in
// whole seconds, so timeout is rounded up. Stopping a task that already
// exited reports how it exited.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) (runtime.Exit, error) {
	name := containerName(id)
	inspected, err := d.client.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, notFound(id, err))
	}
	c := inspected.Container
	if c.State != nil && !c.State.Running {
		return exitFromState(c.State), nil
	}
	if timeout <= 0 {
		timeout = defaultStopTimeout
		if c.Config != nil && c.Config.StopTimeout != nil {
			timeout = time.Duration(*c.Config.StopTimeout) * time.Second
		}
	}
	secs := seconds(timeout)
	begin := time.Now()
	if _, err := d.client.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, notFound(id, err))
	}
	elapsed := time.Since(begin)

	exit, err := d.exitOf(ctx, name)
	if err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, notFound(id, err))
	}
	grace := time.Duration(secs) * time.Second
	switch {
	case exit.Reason == reasonOOM:
	case exit.Code == 128+9 && elapsed >= grace*9/10:
		// The Engine does not say whether it had to kill; a SIGKILL exit
		// after the whole grace period is its kill.
		exit.Signal = "SIGKILL"
		exit.Reason = fmt.Sprintf("killed after stop timeout (%s)", grace)
	default:
		exit.Reason += " after SIGTERM"
	}
	d.log.Info("docker: task stopped", "task", id, "reason", exit.Reason, "elapsed", elapsed)
	return exit, nil
}

// Wait blocks until task id is not running, or ctx ends.
func (d *Driver) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	name := containerName(id)
	wait := d.client.ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int64
	select {
	case res := <-wait.Result:
		code = res.StatusCode
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, ctx.Err())
		}
		return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, notFound(id, err))
	}
	exit, err := d.exitOf(ctx, name)
	if cerrdefs.IsNotFound(err) {
		// Removed right after it exited: the wait result is all there is.
		return exitFromCode(int(code), time.Now()), nil
	}
	if err != nil {
		return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, err)
	}
	return exit, nil
}

// List returns every task container the Engine holds, running or not,
// whichever cutover process started it (of this Owner, when set): this is
// how tasks are re-adopted.
// Containers that Swarm runs for the swarm driver's services carry the
// same labels and are left out: they are that driver's tasks.
func (d *Driver) List(ctx context.Context) ([]runtime.Task, error) {
	filters := make(client.Filters).Add("label", labelManaged+"=true")
	if d.owner != "" {
		filters = filters.Add("label", labelOwner+"="+d.owner)
	}
	listed, err := d.client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	tasks := make([]runtime.Task, 0, len(listed.Items))
	for _, summary := range listed.Items {
		if summary.Labels[labelSwarmService] != "" {
			continue // a container of a Swarm service: the swarm driver's task
		}
		inspected, err := d.client.ContainerInspect(ctx, summary.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("listing tasks: inspecting container %s: %w", summary.ID, err)
		}
		tasks = append(tasks, d.taskFromContainer(inspected.Container))
	}
	return tasks, nil
}

// Remove deletes the container of task id. A task still running is killed
// at once: Stop it first for a graceful end. Its logs go with it.
func (d *Driver) Remove(ctx context.Context, id string) error {
	_, err := d.client.ContainerRemove(ctx, containerName(id), client.ContainerRemoveOptions{Force: true})
	if err != nil {
		return fmt.Errorf("removing task %s: %w", id, notFound(id, err))
	}
	return nil
}

// errStillRunning is returned by exitOf for a running container.
var errStillRunning = errors.New("container is still running")
