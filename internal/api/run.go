package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/runtime"
)

// RunRequest asks for a one-off task of an app's current revision
// (`cutover run`). With Stdin, the request body goes on after the JSON
// object with the task's standard input as frames: a 4-byte big-endian
// length, then that many bytes; a frame of length 0 only keeps the
// request alive, and the end of the body ends the input.
type RunRequest struct {
	Command []string `json:"command"`
	// Detach runs the task in the background: the answer is the task
	// (202), and its output is GET /api/v1/tasks/{id}/logs.
	Detach bool `json:"detach,omitempty"`
	Stdin  bool `json:"stdin,omitempty"`
}

// Run answer headers: the task's id, and the trailers with how it ended.
const (
	HeaderRunTask        = "Cutover-Task"
	TrailerRunExitCode   = "Cutover-Exit-Code" // -1 when a signal ended it
	TrailerRunExitSignal = "Cutover-Exit-Signal"
	TrailerRunExitState  = "Cutover-Exit-Reason"
)

// maxStdinFrame is the longest frame of a task's standard input.
const maxStdinFrame = 64 << 10

// TaskRunner runs one-off tasks; a Deployer that can implements it.
type TaskRunner interface {
	RunTask(ctx context.Context, app string, opts deploy.RunOptions) (OneOff, error)
}

// OneOff is a one-off task that was started; *deploy.OneOff implements it.
type OneOff interface {
	ID() string
	// Output copies the task's output to w until it exits or ctx ends.
	Output(ctx context.Context, w io.Writer) error
	Wait(ctx context.Context) (runtime.Exit, error)
	Stop(ctx context.Context, grace time.Duration)
	Remove(ctx context.Context)
}

// runTask runs a one-off task. Attached, the answer streams its output
// (stdout and stderr, as text) and ends with the trailers
// Cutover-Exit-Code, Cutover-Exit-Signal and Cutover-Exit-Reason; a caller that hangs up
// stops the task. Detached, the answer is the task.
func (h *Handler) runTask(w http.ResponseWriter, r *http.Request) {
	runner, ok := h.deployer.(TaskRunner)
	if !ok {
		problem(w, http.StatusNotImplemented, "this cutover runs no one-off tasks")
		return
	}
	req, stdin, err := decodeRun(r.Body)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	opts := deploy.RunOptions{Command: req.Command, Detach: req.Detach}
	var stdinW *os.File
	if req.Stdin {
		if opts.Stdin, stdinW, err = os.Pipe(); err != nil {
			h.fail(w, err)
			return
		}
		defer stdinW.Close()
	}
	app := r.PathValue("app")
	o, err := runner.RunTask(r.Context(), app, opts)
	if err != nil {
		h.fail(w, err)
		return
	}
	if req.Detach {
		task, err := h.store.GetTask(r.Context(), o.ID())
		if err != nil {
			h.fail(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, task)
		return
	}
	h.streamTask(w, r, o, stdin, stdinW)
}

// decodeRun reads the JSON request at the start of body and returns it
// with the rest of the body: the frames of the task's standard input.
func decodeRun(body io.Reader) (RunRequest, io.Reader, error) {
	var req RunRequest
	dec := json.NewDecoder(&io.LimitedReader{R: body, N: 1 << 20})
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, nil, fmt.Errorf("reading the request: %w", err)
	}
	switch {
	case req.Detach && req.Stdin:
		return req, nil, errors.New("stdin: a detached task reads no input; leave out detach or stdin")
	case len(req.Command) == 0 || req.Command[0] == "":
		return req, nil, errors.New(`command: missing; give the command and its arguments, e.g. {"command": ["node", "migrate.js"]}`)
	}
	return req, io.MultiReader(dec.Buffered(), body), nil
}

// streamTask sends o's output as it comes, its input from the request
// while it runs, and how it ended in the trailers.
func (h *Handler) streamTask(w http.ResponseWriter, r *http.Request, o OneOff, stdin io.Reader, stdinW *os.File) {
	rc := http.NewResponseController(w)
	ctx, cancel := h.untilClosing(r.Context())
	defer cancel()
	inputDone := make(chan struct{})
	rc.EnableFullDuplex()
	go func() {
		defer close(inputDone)
		if stdinW == nil {
			// The request is read to its end even without input: only
			// then does net/http watch the connection for the caller
			// hanging up (the Connection: close below keeps it from
			// reading the rest itself).
			io.Copy(io.Discard, stdin)
			return
		}
		copyFrames(stdinW, stdin)
		stdinW.Close()
	}()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The connection ends with the task: a read of the input cut short
	// by endInput cancels the connection's context in net/http, which
	// would cancel the next request sent on it.
	w.Header().Set("Connection", "close")
	w.Header().Set(HeaderRunTask, o.ID())
	w.Header().Set("Trailer", TrailerRunExitCode+", "+TrailerRunExitSignal+", "+TrailerRunExitState)
	w.WriteHeader(http.StatusOK)
	rc.Flush()

	o.Output(ctx, flushWriter{w, rc})
	exit, err := o.Wait(ctx)
	if err != nil { // the caller hung up or cutover is stopping
		o.Stop(context.WithoutCancel(ctx), 10*time.Second)
	}
	if stdinW != nil {
		stdinW.Close() // ends a write the task will never read
	}
	endInput(rc, inputDone)
	o.Remove(ctx)
	if err != nil {
		return
	}
	w.Header().Set(TrailerRunExitCode, strconv.Itoa(exit.Code))
	w.Header().Set(TrailerRunExitSignal, exit.Signal)
	w.Header().Set(TrailerRunExitState, exit.Reason)
}

// endInput stops reading the task's input from the request and waits
// until the reader has returned: a handler must not outlive its reads.
func endInput(rc *http.ResponseController, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		rc.SetReadDeadline(time.Now()) // ends a read that is waiting
		select {
		case <-done:
			rc.SetReadDeadline(time.Time{})
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// copyFrames writes the data of the frames read from r to w, until r or
// a write ends, or a frame is malformed.
func copyFrames(w io.Writer, r io.Reader) {
	var size [4]byte
	buf := make([]byte, maxStdinFrame)
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > maxStdinFrame {
			return
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
	}
}

// flushWriter flushes every write, so output reaches the caller as the
// task writes it.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
