package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// startLogLines is how many lines of output a start failure quotes.
const startLogLines = 20

// startPoll is how often Start asks Swarm about a new task.
const startPoll = 100 * time.Millisecond

// portAttempts is how many host ports Start tries when the one it picked
// is held on the node by something outside Swarm.
const portAttempts = 3

// Start creates the task's service and returns once its task has run for
// the start check. On failure it removes the service.
func (d *Driver) Start(ctx context.Context, spec runtime.TaskSpec) (runtime.Task, error) {
	if err := validate(spec); err != nil {
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	var tried []int
	for {
		task, err := d.startOnce(ctx, spec, tried)
		var busy *portBusyError
		if errors.As(err, &busy) && len(tried)+1 < portAttempts {
			d.log.Warn("swarm: host port in use on the node, trying another", "task", spec.ID, "port", busy.port)
			tried = append(tried, busy.port)
			continue
		}
		if err != nil {
			return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
		}
		d.log.Info("swarm: task started", "task", spec.ID, "address", task.Address)
		return task, nil
	}
}

// portBusyError is a start that failed because the node's host port was
// taken by something Swarm does not know about.
type portBusyError struct {
	port int
	err  error
}

func (e *portBusyError) Error() string { return e.err.Error() }
func (e *portBusyError) Unwrap() error { return e.err }

// startOnce creates the service on a free port (none of avoid) and waits
// for its task; it removes the service when the task does not start.
func (d *Driver) startOnce(ctx context.Context, spec runtime.TaskSpec, avoid []int) (runtime.Task, error) {
	id, port, err := d.create(ctx, spec, avoid)
	if err != nil {
		return runtime.Task{}, err
	}
	task, err := d.waitStarted(ctx, spec.ID, id)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if _, rerr := d.client.ServiceRemove(cctx, id, client.ServiceRemoveOptions{}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			d.log.Error("swarm: removing service of failed task", "task", spec.ID, "service", id, "err", rerr)
		}
		if strings.Contains(err.Error(), "address already in use") {
			return runtime.Task{}, &portBusyError{port: port, err: err}
		}
		return runtime.Task{}, err
	}
	return task, nil
}

// create picks a host port and creates the service, holding portMu so
// that this process never hands one port to two tasks.
func (d *Driver) create(ctx context.Context, spec runtime.TaskSpec, avoid []int) (serviceID string, port int, err error) {
	d.portMu.Lock()
	defer d.portMu.Unlock()
	port, err = d.freePort(ctx, avoid)
	if err != nil {
		return "", 0, err
	}
	created, err := d.client.ServiceCreate(ctx, client.ServiceCreateOptions{
		Spec:                d.serviceSpec(spec, port),
		EncodedRegistryAuth: d.registryAuth,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return "", 0, fmt.Errorf("service %s already exists: %w", serviceName(spec.ID), err)
		}
		return "", 0, fmt.Errorf("creating service: %w", err)
	}
	for _, w := range created.Warnings {
		// Expected for images that are not in a registry: each node
		// uses its local copy.
		d.log.Debug("swarm: service created with warning", "task", spec.ID, "warning", w)
	}
	return created.ID, port, nil
}

// freePort picks a random port of the range that no cutover service
// publishes, and none of avoid.
func (d *Driver) freePort(ctx context.Context, avoid []int) (int, error) {
	services, err := d.services(ctx)
	if err != nil {
		return 0, fmt.Errorf("picking a host port: %w", err)
	}
	used := make(map[int]bool, len(services)+len(avoid))
	for _, s := range services {
		if p, err := strconv.Atoi(s.Spec.Labels[labelPublished]); err == nil {
			used[p] = true
		}
	}
	for _, p := range avoid {
		used[p] = true
	}
	size := d.ports.Last - d.ports.First + 1
	start := rand.IntN(size)
	for i := range size {
		p := d.ports.First + (start+i)%size
		if !used[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: all %d ports of %d-%d are published by cutover tasks", runtime.ErrNoPort, size, d.ports.First, d.ports.Last)
}

// serviceSpec turns spec into a one-replica service publishing port on
// the node it runs on.
func (d *Driver) serviceSpec(spec runtime.TaskSpec, port int) swarm.ServiceSpec {
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = make(map[string]string)
	}
	labels[labelManaged] = "true"
	labels[labelApp] = spec.App
	labels[labelRevision] = spec.Revision
	labels[labelTask] = spec.ID
	labels[labelPort] = strconv.Itoa(spec.Port)
	labels[labelPublished] = strconv.Itoa(port)
	if d.owner != "" {
		labels[labelOwner] = d.owner
	}

	env := make([]string, 0, len(spec.Env))
	for name, value := range spec.Env {
		env = append(env, name+"="+value)
	}
	sort.Strings(env)

	grace := spec.StopTimeout
	if grace == 0 {
		grace = defaultStopTimeout
	}
	replicas := uint64(1)
	var limits *swarm.Limit
	if spec.Resources.MemoryBytes > 0 || spec.Resources.CPUs > 0 {
		limits = &swarm.Limit{
			MemoryBytes: spec.Resources.MemoryBytes,
			NanoCPUs:    int64(math.Round(spec.Resources.CPUs * 1e9)),
		}
	}
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: serviceName(spec.ID), Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           spec.Image,
				Command:         spec.Entrypoint,
				Args:            spec.Command,
				Env:             env,
				Labels:          labels,
				StopGracePeriod: &grace,
			},
			Resources: &swarm.ResourceRequirements{Limits: limits},
			// Swarm never restarts or moves a task: cutover replaces it.
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
			Placement:     &swarm.Placement{Constraints: constraints(spec.Labels)},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{
			Protocol:      network.TCP,
			TargetPort:    uint32(spec.Port),
			PublishedPort: uint32(port),
			PublishMode:   swarm.PortConfigPublishModeHost,
		}}},
	}
}

// waitStarted waits for the service's task to run and to survive the
// start check.
func (d *Driver) waitStarted(ctx context.Context, id, serviceID string) (runtime.Task, error) {
	deadline := time.Now().Add(d.startTimeout)
	state, reason := "not created", ""
	for {
		_, obs, err := d.observe(ctx, serviceID)
		switch {
		case errors.Is(err, errGone):
		case err != nil:
			return runtime.Task{}, fmt.Errorf("watching the new task: %w", err)
		case obs.exit != nil:
			return runtime.Task{}, fmt.Errorf("%w: %s; last output:\n%s", runtime.ErrStartFailed, obs.exit.Reason, d.lastLines(ctx, serviceID))
		case obs.task.Status.State == swarm.TaskStateRunning:
			return d.checkStarted(ctx, serviceID)
		default:
			state = string(obs.task.Status.State)
			reason = obs.task.Status.Err
			if reason == "" {
				reason = obs.task.Status.Message
			}
		}
		if time.Now().After(deadline) {
			return runtime.Task{}, fmt.Errorf("%w: task still %s after %s: %s", runtime.ErrStartFailed, state, d.startTimeout, reason)
		}
		if err := sleep(ctx, startPoll); err != nil {
			return runtime.Task{}, fmt.Errorf("waiting for the task to run (%s: %s): %w", state, reason, err)
		}
	}
}

// checkStarted watches a running task for d.startCheck and reports it.
func (d *Driver) checkStarted(ctx context.Context, serviceID string) (runtime.Task, error) {
	if err := sleep(ctx, d.startCheck); err != nil {
		return runtime.Task{}, err
	}
	svc, obs, err := d.observe(ctx, serviceID)
	if err != nil {
		return runtime.Task{}, fmt.Errorf("watching the new task: %w", err)
	}
	if obs.exit == nil {
		obs.exit = d.localExit(ctx, obs.task)
	}
	if obs.exit != nil {
		return runtime.Task{}, fmt.Errorf("%w: %s at once; last output:\n%s", runtime.ErrStartFailed, obs.exit.Reason, d.lastLines(ctx, serviceID))
	}
	return d.taskFrom(svc, obs), nil
}

// localExit asks the local Engine about a task that runs on it. Swarm
// reports a task's status some time after its container changed, so a
// container that exited at once may still be "running" to Swarm at the
// end of the start check; the Engine that runs it knows at once. It
// returns nil for tasks on other nodes, and for running ones.
func (d *Driver) localExit(ctx context.Context, t swarm.Task) *runtime.Exit {
	cs := t.Status.ContainerStatus
	if cs == nil || cs.ContainerID == "" || t.NodeID == "" || t.NodeID != d.localNode(ctx) {
		return nil
	}
	inspected, err := d.client.ContainerInspect(ctx, cs.ContainerID, client.ContainerInspectOptions{})
	if err != nil || inspected.Container.State == nil || inspected.Container.State.Running {
		return nil
	}
	exit := exitFromCode(inspected.Container.State.ExitCode, time.Now())
	return &exit
}

// localNode is the swarm node ID of the Engine the driver talks to.
func (d *Driver) localNode(ctx context.Context) string {
	info, err := d.client.Info(ctx, client.InfoOptions{})
	if err != nil {
		return ""
	}
	return info.Info.Swarm.NodeID
}

// lastLines returns the service's last output lines, for error messages.
func (d *Driver) lastLines(ctx context.Context, serviceID string) string {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := d.logs(lctx, serviceID, runtime.LogOptions{Tail: startLogLines})
	if err != nil {
		return fmt.Sprintf("(reading logs: %v)", err)
	}
	defer rc.Close()
	out, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil && len(out) == 0 {
		return fmt.Sprintf("(reading logs: %v)", err)
	}
	if len(out) == 0 {
		return "(no output)"
	}
	return strings.TrimRight(string(out), "\n")
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
