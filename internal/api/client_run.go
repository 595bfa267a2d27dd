package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// stdinKeepAlive is how often an attached run with idle input sends an
// empty frame, well within the API's wait for request body data.
const stdinKeepAlive = 20 * time.Second

// RunResult is how an attached one-off task ended.
type RunResult struct {
	Task     string
	ExitCode int    // -1 when a signal ended it
	Signal   string // e.g. SIGKILL, when a signal ended it
	Reason   string
}

// Run runs a one-off task attached: its output is copied to out as it
// comes, and stdin, when not nil, is sent as its input. It returns once
// the task has ended. Ending ctx stops the task.
func (c *Client) Run(ctx context.Context, app string, command []string, stdin io.Reader, out io.Writer) (RunResult, error) {
	req := RunRequest{Command: command, Stdin: stdin != nil}
	head, err := json.Marshal(req)
	if err != nil {
		return RunResult{}, err
	}
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(head); err != nil || stdin == nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(writeFrames(ctx, pw, stdin))
	}()
	resp, err := c.send(ctx, http.MethodPost, runPath(app), pr, "")
	if err != nil {
		pr.Close()
		return RunResult{}, err
	}
	defer resp.Body.Close()
	res := RunResult{Task: resp.Header.Get(HeaderRunTask)}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return res, fmt.Errorf("reading the output of task %s: %w", res.Task, err)
	}
	code, err := strconv.Atoi(resp.Trailer.Get(TrailerRunExitCode))
	if err != nil {
		return res, fmt.Errorf("task %s: the answer ended without its exit code (did cutover stop?)", res.Task)
	}
	res.ExitCode, res.Reason = code, resp.Trailer.Get(TrailerRunExitState)
	res.Signal = resp.Trailer.Get(TrailerRunExitSignal)
	return res, nil
}

// RunDetached starts a one-off task in the background and returns it.
func (c *Client) RunDetached(ctx context.Context, app string, command []string) (store.Task, error) {
	var t store.Task
	err := c.do(ctx, http.MethodPost, runPath(app), RunRequest{Command: command, Detach: true}, &t)
	return t, err
}

func runPath(app string) string { return "/api/v1/apps/" + url.PathEscape(app) + "/run" }

// writeFrames sends what r gives as frames of the task's input, and an
// empty frame when r gives nothing for stdinKeepAlive.
func writeFrames(ctx context.Context, w io.Writer, r io.Reader) error {
	chunks := make(chan []byte)
	errs := make(chan error, 1)
	go func() {
		for {
			buf := make([]byte, maxStdinFrame)
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case chunks <- buf[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	tick := time.NewTicker(stdinKeepAlive)
	defer tick.Stop()
	for {
		var chunk []byte
		select {
		case chunk = <-chunks:
		case err := <-errs:
			if err == io.EOF {
				return nil
			}
			return err
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], uint32(len(chunk)))
		if _, err := w.Write(append(size[:], chunk...)); err != nil {
			return err
		}
	}
}
