package swarm

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
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
	})
	if err != nil {
		return nil, err
	}
	return demux(raw), nil
}

// demux turns the Engine's multiplexed log stream (8-byte frame headers,
// used for tasks without a TTY) into plain text.
func demux(raw io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, raw)
		pw.CloseWithError(err) // nil: readers see io.EOF
	}()
	return &demuxed{PipeReader: pr, raw: raw}
}

// demuxed closes both ends of a demux: the pipe and the Engine's stream,
// which ends the copying goroutine.
type demuxed struct {
	*io.PipeReader
	raw io.ReadCloser
}

func (r *demuxed) Close() error {
	r.PipeReader.Close()
	return r.raw.Close()
}
