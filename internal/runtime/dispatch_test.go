package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/runtime/process"
	"github.com/cutover/cutover/internal/runtime/swarm"
)

func TestDispatchRunsCommandsOnProcessesAndRefusesImagesWithoutEngine(t *testing.T) {
	procs, err := process.New(process.Options{StateDir: t.TempDir(), StartCheck: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer procs.Close()
	d := &runtime.Dispatch{Processes: procs, ImagesErr: errors.New("connecting to Docker Engine: no such file")}
	ctx := context.Background()

	task, err := d.Start(ctx, runtime.TaskSpec{ID: "web-1", App: "web", Command: []string{"/bin/sh", "-c", "exec sleep 30"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start of a command: %v", err)
	}
	if task.Driver != "process" {
		t.Errorf("command task ran on %q", task.Driver)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "web-1" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	exit, err := d.Stop(ctx, "web-1", 5*time.Second)
	if err != nil || !strings.Contains(exit.Reason, "SIGTERM") {
		t.Errorf("Stop = %+v, %v", exit, err)
	}
	if _, err := d.Wait(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait of an unknown task: %v, want ErrNotFound", err)
	}

	_, err = d.Start(ctx, runtime.TaskSpec{ID: "img-1", App: "img", Image: "hello:1", Port: 80})
	if !errors.Is(err, runtime.ErrStartFailed) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Start of an image without an engine: %v", err)
	}
}

// fakeDriver knows the tasks started on it, by id.
type fakeDriver struct {
	name  string
	tasks map[string]runtime.Task
}

func newFake(name string) *fakeDriver {
	return &fakeDriver{name: name, tasks: make(map[string]runtime.Task)}
}

func (f *fakeDriver) Start(ctx context.Context, spec runtime.TaskSpec) (runtime.Task, error) {
	task := runtime.Task{ID: spec.ID, App: spec.App, Driver: f.name, Running: true}
	f.tasks[spec.ID] = task
	return task, nil
}

func (f *fakeDriver) Stop(ctx context.Context, id string, timeout time.Duration) (runtime.Exit, error) {
	if _, ok := f.tasks[id]; !ok {
		return runtime.Exit{}, fmt.Errorf("stopping task %s: %w", id, runtime.ErrNotFound)
	}
	return runtime.Exit{Reason: "stopped by " + f.name}, nil
}

func (f *fakeDriver) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	return f.Stop(ctx, id, 0)
}

func (f *fakeDriver) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	if _, ok := f.tasks[id]; !ok {
		return nil, fmt.Errorf("logs of task %s: %w", id, runtime.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader("logs from " + f.name)), nil
}

func (f *fakeDriver) List(ctx context.Context) ([]runtime.Task, error) {
	var tasks []runtime.Task
	for _, task := range f.tasks {
		tasks = append(tasks, task)
	}
	return tasks, nil
}

func (f *fakeDriver) Remove(ctx context.Context, id string) error {
	if _, ok := f.tasks[id]; !ok {
		return fmt.Errorf("removing task %s: %w", id, runtime.ErrNotFound)
	}
	delete(f.tasks, id)
	return nil
}

func TestDispatchRoutesSwarmTasksToSwarm(t *testing.T) {
	d := &runtime.Dispatch{Processes: newFake("process"), Images: newFake("docker"), Swarm: newFake("swarm")}
	ctx := context.Background()
	specs := []struct {
		spec   runtime.TaskSpec
		driver string
	}{
		{runtime.TaskSpec{ID: "cmd-1", Command: []string{"./run"}}, "process"},
		{runtime.TaskSpec{ID: "img-1", Image: "web:1"}, "docker"},
		{runtime.TaskSpec{ID: "swm-1", Image: "web:1", Labels: map[string]string{runtime.LabelRuntime: runtime.RuntimeSwarm}}, "swarm"},
	}
	for _, s := range specs {
		task, err := d.Start(ctx, s.spec)
		if err != nil || task.Driver != s.driver {
			t.Errorf("Start(%s) ran on %q, %v; want %s", s.spec.ID, task.Driver, err, s.driver)
		}
	}
	for _, s := range specs {
		exit, err := d.Stop(ctx, s.spec.ID, time.Second)
		if err != nil || exit.Reason != "stopped by "+s.driver {
			t.Errorf("Stop(%s) = %+v, %v; want stopped by %s", s.spec.ID, exit, err, s.driver)
		}
		rc, err := d.Logs(ctx, s.spec.ID, runtime.LogOptions{Tail: -1})
		if err != nil {
			t.Errorf("Logs(%s): %v", s.spec.ID, err)
			continue
		}
		out, _ := io.ReadAll(rc)
		rc.Close()
		if string(out) != "logs from "+s.driver {
			t.Errorf("Logs(%s) = %q; want logs from %s", s.spec.ID, out, s.driver)
		}
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 3 {
		t.Errorf("List = %+v, %v; want the 3 tasks", list, err)
	}
	if err := d.Remove(ctx, "swm-1"); err != nil {
		t.Errorf("Remove of the swarm task: %v", err)
	}
	if _, err := d.Wait(ctx, "swm-1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait of a removed task: %v, want ErrNotFound", err)
	}
}

func TestDispatchRefusesSwarmTasksWithoutManager(t *testing.T) {
	d := &runtime.Dispatch{Processes: newFake("process"), Images: newFake("docker"), SwarmErr: errors.New("Docker Engine is not a Swarm manager")}
	spec := runtime.TaskSpec{ID: "swm-1", Image: "web:1", Labels: map[string]string{runtime.LabelRuntime: runtime.RuntimeSwarm}}
	_, err := d.Start(context.Background(), spec)
	if !errors.Is(err, runtime.ErrStartFailed) || !strings.Contains(err.Error(), "not a Swarm manager") {
		t.Errorf("Start of a swarm task without Swarm: %v; want ErrStartFailed saying why", err)
	}
	if list, _ := d.List(context.Background()); len(list) != 0 {
		t.Errorf("the task ran elsewhere: %+v", list)
	}
}

func TestLabelConstraintIsTheSwarmDriversPrefix(t *testing.T) {
	if runtime.LabelConstraint != swarm.ConstraintLabel {
		t.Errorf("runtime.LabelConstraint = %q; the swarm driver reads %q", runtime.LabelConstraint, swarm.ConstraintLabel)
	}
}
