package process

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr bool
	}{
		{
			name: "plain",
			line: "1234 (httpapp) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 5 0 98765 1000 10 0 0 0\n",
			want: procStat{state: 'S', startTicks: 98765},
		},
		{
			name: "name with spaces and parens",
			line: "7 (a) b (c)) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0\n",
			want: procStat{state: 'Z', startTicks: 42},
		},
		{name: "truncated", line: "1 (x) S 1 2 3\n", wantErr: true},
		{name: "no name", line: "1 x S\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.line))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseProcStat = %+v, %v; want %+v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAlive(t *testing.T) {
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !alive(os.Getpid(), self.startTicks) {
		t.Error("this process is not alive")
	}
	if alive(os.Getpid(), self.startTicks+1) {
		t.Error("a process with another start time counts as alive")
	}
}

func TestExitFromStatus(t *testing.T) {
	tests := []struct {
		status unix.WaitStatus
		want   runtime.Exit
	}{
		{3 << 8, runtime.Exit{Code: 3, Reason: "exited with code 3"}},
		{0, runtime.Exit{Code: 0, Reason: "exited with code 0"}},
		{unix.WaitStatus(unix.SIGKILL), runtime.Exit{Code: -1, Signal: "SIGKILL", Reason: "killed by SIGKILL"}},
		{unix.WaitStatus(unix.SIGTERM), runtime.Exit{Code: -1, Signal: "SIGTERM", Reason: "killed by SIGTERM"}},
	}
	for _, tt := range tests {
		if got := exitFromStatus(tt.status); got != tt.want {
			t.Errorf("exitFromStatus(%#x) = %+v, want %+v", uint32(tt.status), got, tt.want)
		}
	}
}

func TestTaskEnv(t *testing.T) {
	base := []string{"PATH=/opt/bin", "HOME=/home/c", "LC_TIME=C", "AWS_SECRET_ACCESS_KEY=x", "PORT=9"}
	spec := runtime.TaskSpec{ID: "web-1", App: "hello", Revision: "r2", Env: map[string]string{"HOME": "/srv", "MODE": "prod", "PORT": "80"}}
	got := taskEnv(spec, 20001, base)
	want := []string{
		"CUTOVER_APP=hello", "CUTOVER_REVISION=r2", "CUTOVER_TASK_ID=web-1",
		"HOME=/srv", "LC_TIME=C", "MODE=prod", "PATH=/opt/bin", "PORT=20001",
	}
	if !slices.Equal(got, want) {
		t.Errorf("taskEnv =\n%q\nwant\n%q", got, want)
	}
	if env := taskEnv(runtime.TaskSpec{}, 1, nil); !slices.Contains(env, "PATH=/usr/local/bin:/usr/bin:/bin") {
		t.Errorf("taskEnv without PATH = %q, want a default PATH", env)
	}
}

func TestWaitPidfd(t *testing.T) {
	cmd := exec.Command(bins.exiter, "-after", "10s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	trackProcess(t, pid)
	defer cmd.Wait()

	// Ends with its context, the process still running.
	pidfd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		t.Skipf("no pidfd support: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if exited, _ := waitPidfd(ctx, pidfd); exited {
		t.Error("waitPidfd reported an exit of a running process")
	}

	// Reports the exit, through the netpoller (no error, no fallback).
	pidfd, err = unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		exited, err := waitPidfd(t.Context(), pidfd)
		if !exited && err == nil {
			err = errors.New("not exited")
		}
		done <- err
	}()
	cmd.Process.Kill()
	if err := <-done; err != nil {
		t.Errorf("waitPidfd after kill: %v", err)
	}
}
