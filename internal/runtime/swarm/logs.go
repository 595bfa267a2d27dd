package swarm

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/runtime/docker"
)

// Logs returns task id's output, stdout and stderr interleaved as plain
// text, read through the manager from whichever node runs the task. Swarm
// keeps it until the service is removed.
func (d *Driver) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	rc, err := d.logs(ctx, serviceName(id), opts)
	if err != nil {
		return nil, fmt.Errorf("reading logs of task %s: %w", id, notFound(id, err))
	}
	return rc, nil
}

func (d *Driver) logs(ctx context.Context, service string, opts runtime.LogOptions) (io.ReadCloser, error) {
	tail := "all"
	if opts.Tail >= 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	raw, err := d.client.ServiceLogs(ctx, service, client.ServiceLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Tail:       tail,
		Since:      docker.LogSince(opts.Since),
		Timestamps: opts.Timestamps,
	})
	if err != nil {
		return nil, err
	}
	if opts.Timestamps {
		return docker.DemuxRecords(raw), nil
	}
	return docker.Demux(raw), nil
}
