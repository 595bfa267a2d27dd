package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// stopPoll is how often Stop asks Swarm whether the task has shut down.
const stopPoll = 100 * time.Millisecond

// Stop scales the task's service to zero, which makes Swarm send SIGTERM
// (or the image's STOPSIGNAL) and SIGKILL after the grace period, and
// reports how the task ended. Swarm fixes the grace period when the task
// is created (the spec's StopTimeout): a different timeout cannot be
// applied to a running task, so Stop waits for the task's own and logs
// the difference. Stopping a task that already ended reports how it ended.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) (runtime.Exit, error) {
	name := serviceName(id)
	svc, obs, err := d.observe(ctx, name)
	if err != nil && !errors.Is(err, errGone) {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, notFound(id, err))
	}
	if exit := recordedExit(svc); exit != nil {
		return *exit, nil
	}
	if obs.exit != nil {
		return d.recordExit(ctx, id, *obs.exit)
	}
	grace := defaultStopTimeout
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGracePeriod != nil {
		grace = *cs.StopGracePeriod
	}
	if timeout > 0 && timeout != grace {
		d.log.Warn("swarm: stop timeout differs from the task's grace period; Swarm applies the task's", "task", id, "timeout", timeout, "grace", grace)
	}

	begin := time.Now()
	var containerID string
	if cs := obs.task.Status.ContainerStatus; cs != nil {
		containerID = cs.ContainerID
	}
	died := d.watchExit(ctx, containerID)
	defer died.stop()
	if err := d.scaleToZero(ctx, name); err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, notFound(id, err))
	}
	exit, err := d.waitShutdown(ctx, obs.task.ID, grace, died)
	if err != nil {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, err)
	}
	elapsed := time.Since(begin)
	switch {
	case exit.Code == 128+9 && elapsed >= grace*9/10:
		exit.Signal = "SIGKILL"
		exit.Reason = fmt.Sprintf("killed after stop timeout (%s)", grace)
	case exit.Code >= 0:
		exit.Reason += " after SIGTERM"
	}
	d.log.Info("swarm: task stopped", "task", id, "reason", exit.Reason, "elapsed", elapsed)
	return d.recordExit(ctx, id, exit)
}

// scaleToZero sets the service's replicas to 0, retrying when another
// writer updated the service in between.
func (d *Driver) scaleToZero(ctx context.Context, name string) error {
	return d.updateService(ctx, name, func(spec *swarm.ServiceSpec) {
		zero := uint64(0)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &zero}
	})
}

// recordExit writes exit on the task's service, so that Wait and List
// report it once Swarm has deleted the task, and returns it.
func (d *Driver) recordExit(ctx context.Context, id string, exit runtime.Exit) (runtime.Exit, error) {
	raw, err := json.Marshal(exit)
	if err != nil {
		return exit, err
	}
	err = d.updateService(ctx, serviceName(id), func(spec *swarm.ServiceSpec) {
		if spec.Labels == nil {
			spec.Labels = make(map[string]string)
		}
		spec.Labels[labelExit] = string(raw)
	})
	if err != nil {
		return exit, fmt.Errorf("recording how task %s ended: %w", id, notFound(id, err))
	}
	return exit, nil
}

// updateService applies change to the service's current spec.
func (d *Driver) updateService(ctx context.Context, name string, change func(*swarm.ServiceSpec)) error {
	for attempt := 0; ; attempt++ {
		inspected, err := d.client.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		spec := inspected.Service.Spec
		change(&spec)
		_, err = d.client.ServiceUpdate(ctx, name, client.ServiceUpdateOptions{
			Version: inspected.Service.Version,
			Spec:    spec,
		})
		if err == nil || attempt == 2 || !isOutOfSequence(err) {
			return err
		}
	}
}

// isOutOfSequence reports Swarm's answer to an update based on an old
// version of the service.
func isOutOfSequence(err error) bool {
	return err != nil && (cerrdefs.IsConflict(err) || strings.Contains(strings.ToLower(err.Error()), "update out of sequence"))
}

// waitShutdown polls task taskID until it has shut down and returns how
// it ended. Swarm deletes a scaled-down task once it is shut down; when
// that happens between two polls, the exit code comes from the
// container's die event (died), or is lost when there is none (a task
// on another node).
func (d *Driver) waitShutdown(ctx context.Context, taskID string, grace time.Duration, died *exitWatch) (runtime.Exit, error) {
	if taskID == "" {
		return runtime.Exit{Code: -1, Reason: "stopped before Swarm scheduled it", At: time.Now()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, grace+time.Minute)
	defer cancel()
	for {
		inspected, err := d.client.TaskInspect(ctx, taskID, client.TaskInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			if code, ok := died.code(2 * time.Second); ok {
				return exitFromCode(code, time.Now()), nil
			}
			return runtime.Exit{Code: -1, Reason: "stopped (Swarm deleted the task before its exit code was read)", At: time.Now()}, nil
		}
		if err != nil {
			return runtime.Exit{}, fmt.Errorf("waiting for the task to shut down: %w", err)
		}
		t := inspected.Task
		var node *swarm.Node
		if t.Status.State == swarm.TaskStateRunning && t.NodeID != "" {
			if n, err := d.client.NodeInspect(ctx, t.NodeID, client.NodeInspectOptions{}); err == nil {
				node = &n.Node
			}
		}
		if exit := taskExit(t, node); exit != nil {
			return *exit, nil
		}
		if err := sleep(ctx, stopPoll); err != nil {
			return runtime.Exit{}, fmt.Errorf("waiting for the task to shut down: %w", err)
		}
	}
}

// Wait blocks until task id has ended, or ctx ends. It polls Swarm every
// Options.PollInterval; a task whose node is lost counts as ended.
func (d *Driver) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	name := serviceName(id)
	for {
		svc, obs, err := d.observe(ctx, name)
		if err != nil && !errors.Is(err, errGone) {
			if ctx.Err() != nil {
				return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, ctx.Err())
			}
			return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, notFound(id, err))
		}
		if task := d.taskFrom(svc, obs); task.Exit != nil {
			return *task.Exit, nil
		}
		if err := sleep(ctx, d.poll); err != nil {
			return runtime.Exit{}, fmt.Errorf("waiting for task %s: %w", id, err)
		}
	}
}

// List returns every task service in the swarm, running or not, whichever
// cutover process started it: this is how tasks are re-adopted.
func (d *Driver) List(ctx context.Context) ([]runtime.Task, error) {
	services, err := d.services(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	tasks, err := d.client.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	nodes, err := d.client.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing tasks: listing nodes: %w", err)
	}
	byService := make(map[string][]swarm.Task)
	for _, t := range tasks.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	byID := make(map[string]*swarm.Node)
	for i := range nodes.Items {
		byID[nodes.Items[i].ID] = &nodes.Items[i]
	}
	out := make([]runtime.Task, 0, len(services))
	for _, svc := range services {
		var obs observed
		if t, ok := latest(byService[svc.ID]); ok {
			obs = observed{task: t, node: byID[t.NodeID]}
			obs.exit = taskExit(t, obs.node)
		}
		out = append(out, d.taskFrom(svc, obs))
	}
	return out, nil
}

// services lists the services the driver created.
func (d *Driver) services(ctx context.Context) ([]swarm.Service, error) {
	filters := make(client.Filters).Add("label", labelManaged+"=true")
	if d.owner != "" {
		filters = filters.Add("label", labelOwner+"="+d.owner)
	}
	listed, err := d.client.ServiceList(ctx, client.ServiceListOptions{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	return listed.Items, nil
}

// Remove deletes the service of task id. A task still running is stopped
// by Swarm with its grace period, without waiting: Stop it first to know
// how it ended. Its logs go with it.
func (d *Driver) Remove(ctx context.Context, id string) error {
	if _, err := d.client.ServiceRemove(ctx, serviceName(id), client.ServiceRemoveOptions{}); err != nil {
		return fmt.Errorf("removing task %s: %w", id, notFound(id, err))
	}
	return nil
}
