package dataplane

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Launcher starts data plane processes: Path dataplane --data DIR
// [--takeover], in a session of their own so that they outlive the
// control plane, logging to <data>/dataplane.log.
type Launcher struct {
	Path    string   // the cutover binary
	Env     []string // nil: the control plane's environment
	DataDir string
}

// Start starts a data plane and returns its pid once it serves the
// control socket (a successor: once it has taken over). A fresh data
// plane inherits sockets (by configured address) instead of binding them.
func (l Launcher) Start(ctx context.Context, takeover bool, sockets map[string]*os.File) (int, error) {
	logf, err := os.OpenFile(filepath.Join(l.DataDir, LogName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("opening the data plane log: %w", err)
	}
	defer logf.Close()
	args := []string{"dataplane", "--data", l.DataDir}
	if takeover {
		args = append(args, "--takeover")
	}
	cmd := exec.Command(l.Path, args...)
	cmd.Env = l.Env
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	var names []string
	for addr, f := range sockets {
		names = append(names, addr+"="+strconv.Itoa(3+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	if len(names) > 0 {
		cmd.Env = append(cmd.Env, socketsEnv+"="+strings.Join(names, ","))
	}
	cmd.Dir = l.DataDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting the data plane (%s): %w", l.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it if it dies while we run
	pid := cmd.Process.Pid
	c := NewClient(filepath.Join(l.DataDir, SocketName))
	defer c.CloseIdleConnections()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Status(sctx)
		cancel()
		if err == nil && st.PID == pid {
			return pid, nil
		}
		select {
		case err := <-exited:
			return 0, fmt.Errorf("the data plane exited at start (%v); see %s", err, filepath.Join(l.DataDir, LogName))
		case <-ctx.Done():
			cmd.Process.Kill()
			return 0, fmt.Errorf("waiting for the data plane to serve: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// InProcess runs data planes inside this process, for tests that do not
// need the process boundary. Shutdown stops them.
type InProcess struct {
	DataDir string
	Logger  *slog.Logger

	mu     sync.Mutex
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs a data plane in a goroutine and returns this process's pid
// once it serves. It binds its own sockets.
func (p *InProcess) Start(ctx context.Context, takeover bool, _ map[string]*os.File) (int, error) {
	s, err := start(ctx, Options{DataDir: p.DataDir, Logger: p.Logger, TakeOver: takeover})
	if err != nil {
		return 0, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel = append(p.cancel, cancel)
	p.mu.Unlock()
	p.wg.Go(func() { s.wait(runCtx) })
	return os.Getpid(), nil
}

// Shutdown stops every data plane started here and waits for them.
func (p *InProcess) Shutdown() {
	p.mu.Lock()
	for _, c := range p.cancel {
		c()
	}
	p.cancel = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// ReapInherited waits, in the background, for the data planes that are
// this process's children but were started by the program it replaced
// (cutover upgrade re-executes the control plane in the same process), so
// that they do not stay zombies when they exit.
func ReapInherited() {
	self := os.Getpid()
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || !isDataPlaneChild(pid, self) {
			continue
		}
		go func() {
			var ws syscall.WaitStatus
			for {
				_, err := syscall.Wait4(pid, &ws, 0, nil)
				if err != syscall.EINTR {
					return
				}
			}
		}()
	}
}

// isDataPlaneChild reports whether pid is a `cutover dataplane` process
// whose parent is parent. An exited one (a zombie) has no command line
// left: it is known by its command name, that of this program.
func isDataPlaneChild(pid, parent int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	head, rest, ok := strings.Cut(string(stat), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
		return false
	}
	if fields[0] == "Z" {
		_, comm, _ := strings.Cut(head, " (")
		self, err := os.ReadFile("/proc/self/comm")
		return err == nil && comm == strings.TrimSpace(string(self))
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	args := strings.Split(string(cmdline), "\x00")
	return err == nil && len(args) > 1 && args[1] == "dataplane"
}
