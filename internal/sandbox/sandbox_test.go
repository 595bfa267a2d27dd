package sandbox

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// full returns a ModeFull sandbox, or skips the test where there cannot
// be one (not root, no bwrap) unless CUTOVER_REQUIRE_SANDBOX=1, as in
// the README's test command.
func full(t *testing.T) *Sandbox {
	t.Helper()
	s, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode() != ModeFull {
		if os.Getenv("CUTOVER_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("no full sandbox here: %s", s.Reason())
		}
		t.Skipf("no full sandbox here: %s", s.Reason())
	}
	return s
}

// TestWrapConfines runs probes in a sandbox that binds one workspace,
// next to a 0700 "data directory" with a secret file and a listening
// unix socket, and checks what each probe can reach.
func TestWrapConfines(t *testing.T) {
	s := full(t)
	base := t.TempDir()
	data := filepath.Join(base, "data")
	work := filepath.Join(data, "pipelines", "app", "src")
	other := filepath.Join(data, "pipelines", "other", "src")
	for _, d := range []string{work, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(data, 0o700)
	os.WriteFile(filepath.Join(data, "secrets.key"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(other, "app.js"), []byte("other app"), 0o644)
	sock := filepath.Join(data, "cutover.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := s.MkdirOwned(work); err != nil {
		t.Fatal(err)
	}
	uid, _ := s.User()

	tests := []struct {
		name   string
		script string
		ok     bool
	}{
		{"runs as the sandbox user", `test "$(id -u)" = ` + strconv.Itoa(uid), true},
		{"writes its workspace", `echo x > ` + work + `/out && test -s ` + work + `/out`, true},
		{"has a private tmp", `echo x > /tmp/t && test -s /tmp/t`, true},
		{"reads system files", `test -x /bin/sh && test -r /etc/passwd`, true},
		{"cannot see the data directory", `ls ` + data + `/secrets.key`, false},
		{"cannot reach the socket", `test -e ` + sock, false},
		{"cannot read another app", `cat ` + other + `/app.js`, false},
		{"cannot see /home or /root", `ls /root/ || ls /home/*`, false},
		{"cannot read /etc/shadow", `cat /etc/shadow`, false},
		{"cannot write system dirs", `touch /usr/x || touch /etc/x`, false},
		{"cannot see cutover's process", `test -e /proc/` + strconv.Itoa(os.Getpid()), false},
		{"has no capabilities", `grep -q '^CapEff:.0000000000000000$' /proc/self/status`, true},
		{"gets no new privileges", `grep -q '^NoNewPrivs:.1$' /proc/self/status`, true},
		{"cannot see the engine", `test -e /var/run/docker.sock || test -e /run/docker.sock`, false},
		{"has POSIX shared memory", `echo x > /dev/shm/s && test -s /dev/shm/s`, true},
		{"cannot fill memory through /tmp", `dd if=/dev/zero of=/tmp/big bs=1M count=1100 2>/dev/null`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tt.script)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			if err := s.Wrap(cmd, Spec{Binds: []Bind{{Host: work, Writable: true}}, Dir: work}); err != nil {
				t.Fatal(err)
			}
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok {
				t.Errorf("%s: err %v, want success %v; output:\n%s", tt.script, err, tt.ok, out)
			}
		})
	}
	fi, err := os.Stat(filepath.Join(work, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Sys().(*syscall.Stat_t).Uid; int(got) != uid {
		t.Errorf("file written in the workspace is owned by %d, want the sandbox user %d", got, uid)
	}
}

// TestWrapKeepsEnvironment: the sandbox adds nothing of cutover's
// environment to the command's.
func TestWrapKeepsEnvironment(t *testing.T) {
	s := full(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "daemon-secret")
	cmd := exec.Command("env")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "ONLY=this"}
	if err := s.Wrap(cmd, Spec{}); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "daemon-secret") || !strings.Contains(string(out), "ONLY=this") {
		t.Errorf("environment in the sandbox:\n%s", out)
	}
}

// TestSignalsReachTheCommand: a task stopped with SIGTERM to the group of
// the sandbox's first process drains and exits with its own status,
// which bwrap passes on.
func TestSignalsReachTheCommand(t *testing.T) {
	s := full(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("sh", "-c", `trap 'exit 7' TERM; echo up; while :; do sleep 0.05; done`)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := s.Wrap(cmd, Spec{Outlive: true, Info: w}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	pid, err := ChildPID(r)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the trap be set
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("exit: %v, want status 7 from the command's trap", err)
	}
}

func TestOffIsSaidAndRequiredRefuses(t *testing.T) {
	s, err := New(context.Background(), Config{Off: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode() != ModeOff || !strings.Contains(s.Warning(), "NOT SANDBOXED") {
		t.Errorf("mode %s, warning %q", s.Mode(), s.Warning())
	}
	cmd := exec.Command("true")
	before := strings.Join(cmd.Args, " ")
	if err := s.Wrap(cmd, Spec{}); err != nil || strings.Join(cmd.Args, " ") != before {
		t.Errorf("ModeOff changed the command: %v %v", cmd.Args, err)
	}
	if _, err := New(context.Background(), Config{Off: true, Required: true}); err == nil {
		t.Error("a required sandbox that is turned off was accepted")
	}
	var nilSandbox *Sandbox
	if nilSandbox.Mode() != ModeOff || nilSandbox.Warning() != "" {
		t.Error("a nil sandbox (no sandbox chosen) is not ModeOff without a warning")
	}
}

// TestCommandFoundOnTheSandboxsPath: a bare command name that cutover's
// PATH resolves to a directory the sandbox hides (pyenv's shims, nvm) is
// looked up again on the command's PATH inside the sandbox.
func TestCommandFoundOnTheSandboxsPath(t *testing.T) {
	s := full(t)
	hidden := t.TempDir()
	os.WriteFile(filepath.Join(hidden, "sh"), []byte("#!/bin/false\n"), 0o755)
	path := hidden + ":/usr/bin:/bin"
	t.Setenv("PATH", path)
	cmd := exec.Command("sh", "-c", "echo found")
	if cmd.Path != filepath.Join(hidden, "sh") {
		t.Fatalf("the test's sh resolves to %s", cmd.Path)
	}
	cmd.Env = []string{"PATH=" + path}
	if err := s.Wrap(cmd, Spec{}); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "found" {
		t.Fatalf("%v: %s", err, out)
	}
}
