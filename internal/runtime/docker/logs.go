package docker

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
// text. The Engine keeps it until the container is removed.
func (d *Driver) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	rc, err := d.logs(ctx, containerName(id), opts)
	if err != nil {
		return nil, fmt.Errorf("reading logs of task %s: %w", id, notFound(id, err))
	}
	return rc, nil
}

// logs reads the logs of a container, named or by id.
func (d *Driver) logs(ctx context.Context, container string, opts runtime.LogOptions) (io.ReadCloser, error) {
	tail := "all"
	if opts.Tail >= 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	raw, err := d.client.ContainerLogs(ctx, container, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Tail:       tail,
		Since:      LogSince(opts.Since),
		Timestamps: opts.Timestamps,
	})
	if err != nil {
		return nil, err
	}
	if opts.Timestamps {
		return DemuxRecords(raw), nil
	}
	return Demux(raw), nil
}

// Demux turns the Engine's multiplexed log stream (8-byte frame headers,
// used for containers and services without a TTY) into plain text.
// Closing the result closes raw.
func Demux(raw io.ReadCloser) io.ReadCloser {
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
