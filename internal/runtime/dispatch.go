package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Dispatch is a Driver that runs tasks with an image on Images and all
// others on Processes, so one controller can run apps of both runtimes.
// Calls about an existing task go to the driver that knows its id.
// Images may be nil (no Docker Engine here): starting an image task then
// fails with a clear error.
type Dispatch struct {
	Processes Driver
	Images    Driver
	// ImagesErr says why Images is nil, for the error message.
	ImagesErr error
}

// Start runs spec on Images when it names an image, else on Processes.
func (d *Dispatch) Start(ctx context.Context, spec TaskSpec) (Task, error) {
	if spec.Image == "" {
		return d.Processes.Start(ctx, spec)
	}
	if d.Images == nil {
		return Task{}, fmt.Errorf("starting task %s from image %s: %w: no container runtime: %v", spec.ID, spec.Image, ErrStartFailed, d.ImagesErr)
	}
	return d.Images.Start(ctx, spec)
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

// List returns the tasks of both drivers.
func (d *Dispatch) List(ctx context.Context) ([]Task, error) {
	tasks, err := d.Processes.List(ctx)
	if err != nil || d.Images == nil {
		return tasks, err
	}
	more, err := d.Images.List(ctx)
	if err != nil {
		return nil, err
	}
	return append(tasks, more...), nil
}

// each calls fn with Processes, then with Images while the task is not
// found, and returns the first answer that is not ErrNotFound.
func (d *Dispatch) each(fn func(Driver) error) error {
	err := fn(d.Processes)
	if !errors.Is(err, ErrNotFound) || d.Images == nil {
		return err
	}
	return fn(d.Images)
}
