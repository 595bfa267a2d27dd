package docker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// taskFromContainer maps an inspected container back to the Task that
// started it, using the labels Start put on it.
func (d *Driver) taskFromContainer(c container.InspectResponse) runtime.Task {
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	task := runtime.Task{
		ID:        labels[labelTask],
		App:       labels[labelApp],
		Revision:  labels[labelRevision],
		Driver:    "docker",
		Container: c.ID,
		Labels:    userLabels(labels),
	}
	if task.ID == "" {
		task.ID = strings.TrimPrefix(strings.TrimPrefix(c.Name, "/"), containerPrefix)
	}
	if c.State != nil {
		task.StartedAt = parseTime(c.State.StartedAt)
		task.Running = c.State.Running
		if !c.State.Running && c.State.Status != container.StateCreated {
			exit := exitFromState(c.State)
			task.Exit = &exit
		}
	}
	if port, err := strconv.Atoi(labels[labelPort]); err == nil && c.NetworkSettings != nil {
		task.Address = d.address(c.NetworkSettings.Ports, port)
	}
	return task
}

// address is where the load balancer reaches container port port, or ""
// when the port is not published (the container is not running).
func (d *Driver) address(ports network.PortMap, port int) string {
	p, ok := network.PortFrom(uint16(port), network.TCP)
	if !ok {
		return ""
	}
	for _, b := range ports[p] {
		if b.HostPort == "" {
			continue
		}
		host := d.hostIP.String()
		if d.hostIP.IsUnspecified() {
			host = "127.0.0.1" // published on all addresses: loopback reaches it
		}
		return net.JoinHostPort(host, b.HostPort)
	}
	return ""
}

// userLabels returns labels without the ones the driver manages.
func userLabels(labels map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range labels {
		switch k {
		case labelManaged, labelApp, labelRevision, labelTask, labelPort, labelOwner:
		default:
			out[k] = v
		}
	}
	return out
}

// exitOf inspects the container of task id and reports how it exited.
func (d *Driver) exitOf(ctx context.Context, id string) (runtime.Exit, error) {
	inspected, err := d.client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return runtime.Exit{}, err
	}
	state := inspected.Container.State
	if state == nil {
		return runtime.Exit{}, fmt.Errorf("container %s has no state", id)
	}
	if state.Running {
		return runtime.Exit{}, errStillRunning
	}
	return exitFromState(state), nil
}

// reasonOOM is the Exit.Reason of a task the kernel killed for going over
// its memory limit.
const reasonOOM = "OOM killed"

// exitFromState says how a stopped container ended.
func exitFromState(s *container.State) runtime.Exit {
	exit := exitFromCode(s.ExitCode, parseTime(s.FinishedAt))
	if s.OOMKilled {
		exit.Signal = "SIGKILL"
		exit.Reason = reasonOOM
	}
	return exit
}

// exitFromCode reads an exit code the way Docker reports it: codes 128+n
// mean the process died from signal n.
func exitFromCode(code int, at time.Time) runtime.Exit {
	exit := runtime.Exit{Code: code, At: at, Reason: fmt.Sprintf("exited with code %d", code)}
	if name := signalName(code - 128); name != "" {
		exit.Signal = name
		exit.Reason = fmt.Sprintf("exited with code %d (%s)", code, name)
	}
	return exit
}

// signalName names the signals a container is usually stopped or
// killed with, and returns "" for others.
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

// parseTime reads the Engine's RFC 3339 timestamps; the zero time stands
// for "never" (the Engine writes 0001-01-01T00:00:00Z).
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
