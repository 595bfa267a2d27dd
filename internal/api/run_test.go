package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

var nextOneOff atomic.Int32

// RunTask runs a scripted one-off task: "echo ARGS" prints them, "exit N"
// ends with N, "cat" prints its input, "sleep" runs until stopped. Like
// the controller, it records the task and an event with the caller.
func (d *scriptedDeployer) RunTask(ctx context.Context, app string, opts deploy.RunOptions) (OneOff, error) {
	d.calls.Add(1)
	if d.err != nil {
		return nil, d.err
	}
	rev, err := d.st.CreateRevision(ctx, store.Revision{App: app})
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%s-run-%d", app, nextOneOff.Add(1))
	err = d.st.PutTask(ctx, store.Task{ID: id, App: app, Revision: rev.ID, TaskSet: deploy.TaskSetOneOff, State: store.TaskRunning})
	if err != nil {
		return nil, err
	}
	if _, err := d.st.Append(ctx, store.Event{Type: "task.one_off_started", App: app, Actor: store.Actor(ctx)}); err != nil {
		return nil, err
	}
	o := &scriptedOneOff{id: id, st: d.st, command: opts.Command, stdin: opts.Stdin, stopped: make(chan struct{})}
	return o, nil
}

type scriptedOneOff struct {
	id      string
	st      *store.Store
	command []string
	stdin   *os.File
	stopped chan struct{}
	stops   atomic.Int32
}

func (o *scriptedOneOff) ID() string { return o.id }

func (o *scriptedOneOff) Output(ctx context.Context, w io.Writer) error {
	switch o.command[0] {
	case "echo":
		fmt.Fprintln(w, strings.Join(o.command[1:], " "))
	case "cat":
		io.Copy(w, o.stdin)
	case "sleep":
		io.WriteString(w, "sleeping\n")
		select {
		case <-o.stopped:
		case <-ctx.Done():
		}
	}
	return nil
}

func (o *scriptedOneOff) Wait(ctx context.Context) (runtime.Exit, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Exit{}, err
	}
	switch o.command[0] {
	case "exit":
		code, _ := strconv.Atoi(o.command[1])
		return runtime.Exit{Code: code, Reason: "exited with code " + o.command[1]}, nil
	case "kill":
		return runtime.Exit{Code: -1, Signal: "SIGKILL", Reason: "killed by SIGKILL"}, nil
	}
	return runtime.Exit{Reason: "exited with code 0"}, nil
}

// Stop records the task stopped, as the controller would.
func (o *scriptedOneOff) Stop(ctx context.Context, grace time.Duration) {
	if o.stops.Add(1) == 1 {
		close(o.stopped)
		o.st.UpdateTask(ctx, o.id, func(t *store.Task) error { t.State = store.TaskStopped; return nil })
	}
}

func (o *scriptedOneOff) Remove(ctx context.Context) {}

func TestRunStreamsOutputAndEndsWithTheExitCode(t *testing.T) {
	c, _ := serve(t, &scriptedDeployer{})
	ctx := context.Background()
	tests := []struct {
		name    string
		command []string
		stdin   string
		out     string
		code    int
		signal  string
	}{
		{"output", []string{"echo", "hello", "world"}, "", "hello world\n", 0, ""},
		{"exit code", []string{"exit", "3"}, "", "", 3, ""},
		{"signal", []string{"kill"}, "", "", -1, "SIGKILL"},
		{"stdin", []string{"cat"}, "line one\nline two\n", "line one\nline two\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin io.Reader
			if tt.stdin != "" {
				stdin = strings.NewReader(tt.stdin)
			}
			var out strings.Builder
			res, err := c.Run(ctx, "hello", tt.command, stdin, &out)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.out || res.ExitCode != tt.code || res.Signal != tt.signal || !strings.HasPrefix(res.Task, "hello-run-") {
				t.Errorf("Run = %+v, output %q; want code %d, signal %q, output %q", res, out.String(), tt.code, tt.signal, tt.out)
			}
		})
	}
}

func TestRunDetachedAnswersTheTask(t *testing.T) {
	c, _ := serve(t, &scriptedDeployer{})
	task, err := c.RunDetached(context.Background(), "hello", []string{"sleep"})
	if err != nil {
		t.Fatal(err)
	}
	if task.TaskSet != deploy.TaskSetOneOff || task.App != "hello" {
		t.Errorf("task %+v; want a one-off task of hello", task)
	}
}

func TestRunStopsTheTaskWhenTheCallerHangsUp(t *testing.T) {
	d := &scriptedDeployer{}
	a := serveBoth(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := a.local.Run(ctx, "hello", []string{"sleep"}, nil, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	buf := make([]byte, 64)
	if n, _ := pr.Read(buf); string(buf[:n]) != "sleeping\n" {
		t.Fatalf("first output %q", buf[:n])
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err == nil {
		t.Error("Run returned no error after its context ended")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, err := a.st.ListTasks(context.Background(), store.TaskFilter{App: "hello", Live: true})
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, task := range tasks {
			if task.TaskSet == deploy.TaskSetOneOff {
				live++
			}
		}
		if live == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the one-off task was not stopped after its caller hung up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunRefusesBadRequests(t *testing.T) {
	d := &scriptedDeployer{}
	a := serveBoth(t, d)
	tests := []struct {
		name, body, want string
		status           int
	}{
		{"no command", `{"command": []}`, "command: missing", http.StatusBadRequest},
		{"empty command", `{"command": [""]}`, "command: missing", http.StatusBadRequest},
		{"detached with stdin", `{"command": ["cat"], "detach": true, "stdin": true}`, "stdin: a detached task reads no input", http.StatusBadRequest},
		{"unknown field", `{"command": ["ls"], "tty": true}`, `unknown field "tty"`, http.StatusBadRequest},
		{"not JSON", `ls -l`, "reading the request", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, "http://cutover/api/v1/apps/hello/run", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.local.http.Do(req) // the socket: admin
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p Problem
			json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != tt.status || !strings.Contains(p.Detail, tt.want) {
				t.Errorf("%d %q; want %d %q", resp.StatusCode, p.Detail, tt.status, tt.want)
			}
		})
	}
	if n := d.calls.Load(); n != 0 {
		t.Errorf("%d tasks were started by bad requests", n)
	}
	d.err = fmt.Errorf("running a task of nope: %w: no such app", store.ErrNotFound)
	_, err := a.local.Run(context.Background(), "nope", []string{"ls"}, nil, io.Discard)
	if e, ok := err.(*Error); !ok || e.Status != http.StatusNotFound || !strings.Contains(e.Detail, "no such app") {
		t.Errorf("Run of an unknown app: %v; want 404 no such app", err)
	}
}
