package lb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/dataplane"
)

// A hitless upgrade of the standalone load balancer, nginx's way: the
// running process starts the binary on disk with the same arguments and
// its listening sockets (the admin one too) as inherited descriptors,
// named in the environment. The successor serves them, then writes one
// byte to a pipe it also inherited; only then does the old process stop
// accepting and drain (proxy.HandOver). No connect is refused meanwhile:
// the sockets never close.

// inheritEnv names the inherited descriptors: l:<address>=fd for each
// listener, admin=fd, ready=fd (the pipe). healthyEnv lists the targets
// healthy at the hand-over, as JSON by target group: the successor
// registers them healthy, not initial.
const (
	inheritEnv = "CUTOVER_PROXY_INHERIT"
	healthyEnv = "CUTOVER_PROXY_HEALTHY"
)

type inherited struct {
	listeners map[string]net.Listener // by configured address
	admin     net.Listener
	ready     *os.File
	healthy   map[string][]string
}

// takeInherited reads the descriptors a predecessor passed, and removes
// their note from the environment.
func takeInherited() inherited {
	var inh inherited
	json.Unmarshal([]byte(os.Getenv(healthyEnv)), &inh.healthy)
	os.Unsetenv(healthyEnv)
	for name, f := range dataplane.InheritedFiles(inheritEnv) {
		if name == "ready" {
			inh.ready = f
			continue
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			continue
		}
		if name == "admin" {
			inh.admin = ln
		} else if addr, ok := strings.CutPrefix(name, "l:"); ok {
			if inh.listeners == nil {
				inh.listeners = map[string]net.Listener{}
			}
			inh.listeners[addr] = ln
		}
	}
	return inh
}

// serving tells the predecessor that this process serves.
func (inh inherited) serving() {
	if inh.ready != nil {
		inh.ready.Write([]byte{1})
		inh.ready.Close()
	}
}

// close gives up inherited sockets (a successor that cannot start).
func (inh inherited) close() {
	for _, ln := range inh.listeners {
		ln.Close()
	}
	if inh.admin != nil {
		inh.admin.Close()
	}
	if inh.ready != nil {
		inh.ready.Close()
	}
}

// StartSuccessor starts exe with args, handing it this process's sockets,
// and returns its pid once it serves them. This process keeps serving;
// call HandOver next. On an error the successor is gone and nothing
// changed.
func (s *Server) StartSuccessor(ctx context.Context, exe string, args []string) (int, error) {
	lfs, err := s.proxy.ListenerFiles()
	if err != nil {
		return 0, err
	}
	var files []*os.File
	var names []string
	for _, lf := range lfs {
		files = append(files, lf.File)
		names = append(names, "l:"+lf.Address)
	}
	if s.adminLn != nil {
		f, err := s.adminLn.(*net.TCPListener).File()
		if err != nil {
			closeAll(files)
			return 0, fmt.Errorf("duplicating the admin socket: %w", err)
		}
		files = append(files, f)
		names = append(names, "admin")
	}
	r, w, err := os.Pipe()
	if err != nil {
		closeAll(files)
		return 0, err
	}
	defer r.Close()
	files = append(files, w)
	names = append(names, "ready")
	defer closeAll(files)

	env := make([]string, len(names))
	for i, n := range names {
		env[i] = n + "=" + strconv.Itoa(3+i) // ExtraFiles start at descriptor 3
	}
	hj, _ := json.Marshal(s.proxy.HealthyTargets())
	proc, err := forkExec(exe, args, append(os.Environ(), inheritEnv+"="+strings.Join(env, ","), healthyEnv+"="+string(hj)), files)
	if err != nil {
		return 0, err
	}
	w.Close() // the successor holds the only write end now
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := r.Read(b[:])
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			proc.Wait()
			return 0, fmt.Errorf("the new process exited before it served (see its log above)")
		}
	case <-ctx.Done():
		proc.Kill()
		proc.Wait()
		return 0, fmt.Errorf("waiting for the new process to serve: %w", ctx.Err())
	}
	go proc.Wait() // reaps it should it exit while this process still drains
	return proc.Pid, nil
}

// forkExec starts exe with args and env, with stdio and files as its
// descriptors 0, 1, 2, 3, ... os/exec is not used: it takes descriptors
// with File.Fd, which makes the sockets blocking, and a blocking listener
// of this process could then not be closed while it waits in accept.
func forkExec(exe string, args, env []string, files []*os.File) (*os.Process, error) {
	fds := []uintptr{os.Stdin.Fd(), os.Stdout.Fd(), os.Stderr.Fd()}
	for _, f := range files {
		fd, err := dataplane.RawFD(f)
		if err != nil {
			return nil, err
		}
		fds = append(fds, fd)
	}
	pid, err := syscall.ForkExec(exe, append([]string{exe}, args...), &syscall.ProcAttr{Env: env, Files: fds})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", exe, err)
	}
	return os.FindProcess(pid)
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// HandOver stops accepting, now that a successor accepts on the same
// sockets, and drains: see proxy.HandOver. In-flight requests, WebSockets
// and streams may run until ctx ends.
func (s *Server) HandOver(ctx context.Context) error {
	var errs []error
	if s.adminSrv != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		errs = append(errs, s.adminSrv.Shutdown(sctx))
		cancel()
	}
	errs = append(errs, s.proxy.HandOver(ctx, time.Second))
	return errors.Join(errs...)
}

type upgradeResult struct {
	pid int
	err error
}

// UpgradeRequest is an upgrade asked on the admin endpoint (POST
// /upgrade). Its receiver starts the successor, replies, and hands over
// when that succeeded.
type UpgradeRequest struct {
	reply chan upgradeResult
}

// Reply answers the request with the successor's pid or why it failed.
func (u UpgradeRequest) Reply(pid int, err error) { u.reply <- upgradeResult{pid, err} }

// Upgrades delivers the upgrades asked on the admin endpoint.
func (s *Server) Upgrades() <-chan UpgradeRequest { return s.upgrades }

func (s *Server) handleUpgrade(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	req := UpgradeRequest{reply: make(chan upgradeResult, 1)}
	select {
	case s.upgrades <- req:
	case <-r.Context().Done():
		return
	}
	res := <-req.reply
	if res.err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "upgrade failed, this process keeps serving: %v\n", res.err)
		return
	}
	fmt.Fprintf(w, "upgraded: pid %d serves now; pid %d drains and exits\n", res.pid, os.Getpid())
}
