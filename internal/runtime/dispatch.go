package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// LabelRuntime is the TaskSpec label that picks a driver other than the
// default for the spec; Dispatch knows the value RuntimeSwarm.
const LabelRuntime = "cutover.runtime"

// RuntimeSwarm is the LabelRuntime value of tasks that run on Swarm.
const RuntimeSwarm = "swarm"

// LabelConstraint prefixes the TaskSpec labels the swarm driver reads as
// placement constraints (swarm.ConstraintLabel), for callers that cannot
// import that package.
const LabelConstraint = "cutover.constraint"

// Dispatch is a Driver that runs tasks labelled for Swarm on Swarm, other
// tasks with an image on Images and all others on Processes, so one
// controller can run apps of every runtime. Calls about an existing task
// go to the driver that knows its id.
// Images and Swarm may be nil (no Docker Engine here, or one that is not
// a Swarm manager): starting a task for them then fails with a clear
// error.
type Dispatch struct {
	Processes Driver
	Images    Driver
	// ImagesErr says why Images is nil, for the error message.
	ImagesErr error
	Swarm     Driver
	// SwarmErr says why Swarm is nil, for the error message.
	SwarmErr error
}

// Start runs spec on Swarm when it is labelled so, on Images when it names
// an image, else on Processes.
func (d *Dispatch) Start(ctx context.Context, spec TaskSpec) (Task, error) {
	switch {
	case spec.Labels[LabelRuntime] == RuntimeSwarm:
		if d.Swarm == nil {
			return Task{}, fmt.Errorf("starting task %s on Swarm: %w: no Swarm manager: %v", spec.ID, ErrStartFailed, d.SwarmErr)
		}
		return d.Swarm.Start(ctx, spec)
	case spec.Image != "":
		if d.Images == nil {
			return Task{}, fmt.Errorf("starting task %s from image %s: %w: no container runtime: %v", spec.ID, spec.Image, ErrStartFailed, d.ImagesErr)
		}
		return d.Images.Start(ctx, spec)
	default:
		return d.Processes.Start(ctx, spec)
	}
}

func (d *Dispatch) Stop(ctx context.Context, id string, timeout time.Duration) (Exit, error) {
	var exit Exit
	err := d.each(func(dr Driver) (err error) {
		exit, err = dr.Stop(ctx, id, timeout)
		return err
	})
	return exit, err
}

func (d *Dispatch) Wait(ctx context.Context, id string) (Exit, error) {
	var exit Exit
	err := d.each(func(dr Driver) (err error) {
		exit, err = dr.Wait(ctx, id)
		return err
	})
	return exit, err
}

func (d *Dispatch) Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := d.each(func(dr Driver) (err error) {
		rc, err = dr.Logs(ctx, id, opts)
		return err
	})
	return rc, err
}

func (d *Dispatch) Remove(ctx context.Context, id string) error {
	return d.each(func(dr Driver) error { return dr.Remove(ctx, id) })
}

// List returns the tasks of all drivers. No task is listed twice: the
// docker driver leaves out the containers Swarm runs for its services.
func (d *Dispatch) List(ctx context.Context) ([]Task, error) {
	var tasks []Task
	for _, dr := range d.drivers() {
		more, err := dr.List(ctx)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, more...)
	}
	return tasks, nil
}

// drivers returns the drivers there are: Processes, Images, Swarm.
func (d *Dispatch) drivers() []Driver {
	drivers := []Driver{d.Processes}
	if d.Images != nil {
		drivers = append(drivers, d.Images)
	}
	if d.Swarm != nil {
		drivers = append(drivers, d.Swarm)
	}
	return drivers
}

// each calls fn with each driver in turn while the task is not found, and
// returns the first answer that is not ErrNotFound.
func (d *Dispatch) each(fn func(Driver) error) error {
	var err error
	for _, dr := range d.drivers() {
		if err = fn(dr); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return err
}
