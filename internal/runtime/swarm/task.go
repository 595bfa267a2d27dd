package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// observed is what Swarm says about a service's task.
type observed struct {
	task swarm.Task
	node *swarm.Node   // nil when the task is not placed yet
	exit *runtime.Exit // set once the task has ended
}

// observe inspects the service and its task. It returns errGone when the
// service has no task (not scheduled yet, or removed after a stop).
func (d *Driver) observe(ctx context.Context, service string) (swarm.Service, observed, error) {
	inspected, err := d.client.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
	if err != nil {
		return swarm.Service{}, observed{}, err
	}
	svc := inspected.Service
	listed, err := d.client.TaskList(ctx, client.TaskListOptions{
		Filters: make(client.Filters).Add("service", svc.ID),
	})
	if err != nil {
		return svc, observed{}, fmt.Errorf("listing tasks of service %s: %w", svc.Spec.Name, err)
	}
	t, ok := latest(listed.Items)
	if !ok {
		return svc, observed{}, errGone
	}
	var node *swarm.Node
	if t.NodeID != "" {
		n, err := d.client.NodeInspect(ctx, t.NodeID, client.NodeInspectOptions{})
		if err != nil {
			return svc, observed{}, fmt.Errorf("inspecting node %s: %w", t.NodeID, err)
		}
		node = &n.Node
	}
	return svc, observed{task: t, node: node, exit: taskExit(t, node)}, nil
}

// latest returns the newest of a service's tasks: with one replica and no
// restarts there is one, but Swarm may keep older ones in its history.
func latest(tasks []swarm.Task) (swarm.Task, bool) {
	var newest swarm.Task
	found := false
	for _, t := range tasks {
		if !found || t.CreatedAt.After(newest.CreatedAt) {
			newest, found = t, true
		}
	}
	return newest, found
}

// taskFrom maps a service and its task back to the runtime.Task that
// started them, using the labels Start put on the service.
func (d *Driver) taskFrom(svc swarm.Service, obs observed) runtime.Task {
	labels := svc.Spec.Labels
	task := runtime.Task{
		ID:        labels[labelTask],
		App:       labels[labelApp],
		Revision:  labels[labelRevision],
		Driver:    "swarm",
		Labels:    userLabels(labels),
		StartedAt: obs.task.CreatedAt,
	}
	if task.ID == "" {
		task.ID = strings.TrimPrefix(svc.Spec.Name, servicePrefix)
	}
	if cs := obs.task.Status.ContainerStatus; cs != nil {
		task.Container = cs.ContainerID
	}
	if exit := recordedExit(svc); exit != nil {
		task.Exit = exit
	} else if obs.exit != nil {
		task.Exit = obs.exit
	} else if obs.task.ID == "" && replicas(svc) == 0 {
		task.Exit = &runtime.Exit{Code: -1, Reason: "stopped"}
	}
	task.Running = task.Exit == nil && obs.task.Status.State == swarm.TaskStateRunning
	if obs.node != nil && task.Exit == nil {
		task.Address = net.JoinHostPort(d.nodeAddress(obs.node.ID, obs.node.Description.Hostname, obs.node.Status.Addr), labels[labelPublished])
	}
	return task
}

// replicas is the number of replicas the service asks for.
func replicas(svc swarm.Service) uint64 {
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		return *r.Replicas
	}
	return 0
}

// recordedExit is the exit Stop wrote on the service, if any.
func recordedExit(svc swarm.Service) *runtime.Exit {
	raw, ok := svc.Spec.Labels[labelExit]
	if !ok {
		return nil
	}
	var exit runtime.Exit
	if err := json.Unmarshal([]byte(raw), &exit); err != nil {
		return &runtime.Exit{Code: -1, Reason: "stopped"}
	}
	return &exit
}

// userLabels returns labels without the ones the driver manages.
func userLabels(labels map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range labels {
		switch k {
		case labelManaged, labelApp, labelRevision, labelTask, labelPort, labelPublished, labelExit, labelOwner:
		default:
			out[k] = v
		}
	}
	return out
}

// Reasons of exits that are not the app's own.
const (
	reasonNodeLost = "node lost"
	reasonRejected = "rejected by Swarm"
)

// taskExit says how t ended, or nil while it has not. A task whose node
// is down has ended as far as cutover is concerned: with restart policy
// none Swarm will not run it again, and its address is gone. That holds
// for a task assigned to the node but not running yet too: Swarm may
// place a task on a node that died before Swarm noticed.
func taskExit(t swarm.Task, node *swarm.Node) *runtime.Exit {
	at := t.Status.Timestamp
	cs := t.Status.ContainerStatus
	switch t.Status.State {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown:
		code := 0
		if cs != nil {
			code = cs.ExitCode
		}
		exit := exitFromCode(code, at)
		return &exit
	case swarm.TaskStateFailed:
		if cs != nil && strings.HasPrefix(t.Status.Err, "task: non-zero exit") {
			exit := exitFromCode(cs.ExitCode, at)
			return &exit
		}
		return &runtime.Exit{Code: -1, Reason: "failed: " + t.Status.Err, At: at}
	case swarm.TaskStateRejected:
		return &runtime.Exit{Code: -1, Reason: reasonRejected + ": " + t.Status.Err, At: at}
	case swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		return &runtime.Exit{Code: -1, Reason: reasonNodeLost + ": Swarm orphaned the task", At: at}
	}
	if node != nil && node.Status.State != swarm.NodeStateReady {
		return &runtime.Exit{
			Code:   -1,
			Reason: fmt.Sprintf("%s: node %s is %s; cutover replaces the task", reasonNodeLost, node.Description.Hostname, node.Status.State),
			At:     time.Now(),
		}
	}
	return nil
}

// exitFromCode reads an exit code the way Docker reports it: codes 128+n
// mean the process died from signal n.
func exitFromCode(code int, at time.Time) runtime.Exit {
	exit := runtime.Exit{Code: code, At: at, Reason: "exited with code " + strconv.Itoa(code)}
	if name := signalName(code - 128); name != "" {
		exit.Signal = name
		exit.Reason = fmt.Sprintf("exited with code %d (%s)", code, name)
	}
	return exit
}

// signalName names the signals a container is usually stopped or killed
// with, and returns "" for others.
func signalName(n int) string {
	switch n {
	case 1:
		return "SIGHUP"
	case 2:
		return "SIGINT"
	case 6:
		return "SIGABRT"
	case 9:
		return "SIGKILL"
	case 11:
		return "SIGSEGV"
	case 15:
		return "SIGTERM"
	}
	return ""
}
