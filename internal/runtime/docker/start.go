package docker

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// startLogLines is how many lines of output a start failure quotes.
const startLogLines = 20

// Start creates and starts the task's container and returns once it has
// survived the start check. On failure it removes what it created.
func (d *Driver) Start(ctx context.Context, spec runtime.TaskSpec) (runtime.Task, error) {
	if err := validate(spec); err != nil {
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	opts := d.createOptions(spec)
	if _, err := d.client.ImageInspect(ctx, spec.Image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, &imageNotFoundError{image: spec.Image})
		}
		return runtime.Task{}, fmt.Errorf("starting task %s: inspecting image %s: %w", spec.ID, spec.Image, err)
	}

	created, err := d.client.ContainerCreate(ctx, opts)
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return runtime.Task{}, fmt.Errorf("starting task %s: container %s already exists: %w", spec.ID, opts.Name, err)
		}
		return runtime.Task{}, fmt.Errorf("starting task %s: creating container: %w", spec.ID, err)
	}
	for _, w := range created.Warnings {
		d.log.Warn("docker: container created with warning", "task", spec.ID, "warning", w)
	}

	task, err := d.startContainer(ctx, spec, created.ID)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if _, rerr := d.client.ContainerRemove(cctx, created.ID, client.ContainerRemoveOptions{Force: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			d.log.Error("docker: removing container of failed task", "task", spec.ID, "container", created.ID, "err", rerr)
		}
		return runtime.Task{}, fmt.Errorf("starting task %s: %w", spec.ID, err)
	}
	d.log.Info("docker: task started", "task", spec.ID, "container", task.Container, "address", task.Address)
	return task, nil
}

// startContainer starts a created container, watches it for the start
// check and reports it as a Task.
func (d *Driver) startContainer(ctx context.Context, spec runtime.TaskSpec, id string) (runtime.Task, error) {
	if _, err := d.client.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return runtime.Task{}, fmt.Errorf("%w: %w", runtime.ErrStartFailed, err)
	}
	if !spec.OneOff {
		if err := d.startCheckPassed(ctx, id); err != nil {
			return runtime.Task{}, err
		}
	}
	inspected, err := d.client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return runtime.Task{}, fmt.Errorf("inspecting container: %w", err)
	}
	task := d.taskFromContainer(inspected.Container)
	if task.Address == "" && !spec.OneOff { // a one-off task may have exited already
		return runtime.Task{}, fmt.Errorf("%w: the Engine published no host port for %d/tcp", runtime.ErrStartFailed, spec.Port)
	}
	return task, nil
}

// startCheckPassed waits up to d.startCheck for the container to exit. It
// returns nil when the container is still running at the end, and an
// error wrapping runtime.ErrStartFailed, quoting the container's last
// output, when it exited.
func (d *Driver) startCheckPassed(ctx context.Context, id string) error {
	wctx, cancel := context.WithTimeout(ctx, d.startCheck)
	defer cancel()
	wait := d.client.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wait.Result:
		exit, err := d.exitOf(ctx, id)
		if err != nil {
			exit = exitFromCode(int(res.StatusCode), time.Now())
		}
		return fmt.Errorf("%w: container %s at once; last output:\n%s", runtime.ErrStartFailed, exit.Reason, d.lastLines(ctx, id))
	case err := <-wait.Error:
		if wctx.Err() != nil && ctx.Err() == nil {
			return nil // still running when the check ended
		}
		return fmt.Errorf("watching container after start: %w", err)
	}
}

// lastLines returns the container's last output lines, for error messages.
func (d *Driver) lastLines(ctx context.Context, id string) string {
	rc, err := d.logs(ctx, id, runtime.LogOptions{Tail: startLogLines})
	if err != nil {
		return fmt.Sprintf("(reading logs: %v)", err)
	}
	defer rc.Close()
	out, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return fmt.Sprintf("(reading logs: %v)", err)
	}
	if len(out) == 0 {
		return "(no output)"
	}
	return strings.TrimRight(string(out), "\n")
}

// createOptions turns spec into the Engine's create request.
func (d *Driver) createOptions(spec runtime.TaskSpec) client.ContainerCreateOptions {
	port, _ := network.PortFrom(uint16(spec.Port), network.TCP) // validate checked the range

	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = make(map[string]string)
	}
	labels[labelManaged] = "true"
	labels[labelApp] = spec.App
	labels[labelRevision] = spec.Revision
	labels[labelTask] = spec.ID
	labels[labelPort] = strconv.Itoa(spec.Port)
	if d.owner != "" {
		labels[labelOwner] = d.owner
	}

	env := make([]string, 0, len(spec.Env))
	for name, value := range spec.Env {
		env = append(env, name+"="+value)
	}
	sort.Strings(env)

	stopTimeout := spec.StopTimeout
	if stopTimeout == 0 {
		stopTimeout = defaultStopTimeout
	}
	stopSeconds := seconds(stopTimeout)

	cfg := &container.Config{
		Image:        spec.Image,
		Env:          env,
		Cmd:          spec.Command,
		Entrypoint:   spec.Entrypoint,
		Labels:       labels,
		ExposedPorts: network.PortSet{port: {}},
		StopTimeout:  &stopSeconds,
	}
	host := &container.HostConfig{
		// An empty HostPort lets the Engine pick a free ephemeral port.
		PortBindings:  network.PortMap{port: {{HostIP: d.hostIP, HostPort: ""}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		NetworkMode:   container.NetworkMode(d.network),
		Resources: container.Resources{
			Memory:   spec.Resources.MemoryBytes,
			NanoCPUs: int64(math.Round(spec.Resources.CPUs * 1e9)),
		},
	}
	if spec.Resources.MemoryBytes > 0 {
		host.Resources.MemorySwap = spec.Resources.MemoryBytes // no swap beyond the limit
	}
	return client.ContainerCreateOptions{
		Name:       containerName(spec.ID),
		Config:     cfg,
		HostConfig: host,
	}
}

// seconds rounds d up to whole seconds, the Engine's unit for stop timeouts.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
