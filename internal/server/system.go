package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/dataplane"
)

// The upgrade of cutover itself (`cutover upgrade`): the data plane is
// replaced first, by a process of the binary now on disk that takes its
// sockets over (package dataplane); then the control plane restarts into
// the same binary. The caller of Start (cmd/cutover's up) does that
// restart when UpgradeRequested fires: it keeps the API's sockets
// (KeepListeners), closes the server and executes the binary again, which
// finds the sockets through InheritedListeners. Clients of the API queue
// in the sockets' backlog meanwhile instead of being refused.

// listenFDsEnv names the API sockets kept across a restart: name=fd,...
const listenFDsEnv = "CUTOVER_LISTEN_FDS"

// Info describes the running control plane and data plane.
func (s *Server) Info(ctx context.Context) (api.SystemInfo, error) {
	info := api.SystemInfo{PID: os.Getpid(), Started: s.started, Executable: s.exe, Version: s.version, Instance: s.instance,
		Sandbox: api.SandboxInfo{Mode: string(s.sandbox.Mode()), Reason: s.sandbox.Reason()}}
	st, err := s.dp.Client().Status(ctx)
	if err != nil {
		info.DataPlane.Error = err.Error()
		return info, nil
	}
	info.DataPlane = api.DataPlaneInfo{PID: st.PID, Started: st.Started, Executable: st.Executable, Version: st.Build,
		ConfigVersion: st.Version, Listeners: st.Listeners}
	return info, nil
}

// ExecKeeping executes exe with args and env in place of this process,
// keeping files open across the exec. Close-on-exec is cleared under
// syscall.ForkLock, so no process started meanwhile inherits them. It
// returns only when the exec fails.
func ExecKeeping(exe string, args, env []string, files []*os.File) error {
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	for _, f := range files {
		fd, err := dataplane.RawFD(f)
		if err == nil {
			if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFD, 0); e != 0 {
				err = e
			}
		}
		if err != nil {
			return fmt.Errorf("keeping %s open across exec: %w", f.Name(), err)
		}
	}
	return syscall.Exec(exe, args, env)
}

// Upgrade replaces the data plane with the binary on disk, then asks the
// caller of Start to restart the control plane into it.
func (s *Server) Upgrade(ctx context.Context) (api.UpgradeResult, error) {
	res := api.UpgradeResult{Executable: s.exe, Instance: s.instance}
	fi, err := os.Stat(s.exe)
	if err != nil {
		return res, fmt.Errorf("upgrading: the cutover binary: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return res, fmt.Errorf("upgrading: %s is not an executable file", s.exe)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res.DataPlaneOld, res.DataPlaneNew, err = s.dp.Upgrade(ctx)
	if err != nil {
		return res, fmt.Errorf("upgrading the data plane: %w", err)
	}
	select {
	case s.upgrades <- struct{}{}:
	default: // one is pending already
	}
	return res, nil
}

// UpgradeRequested fires when an upgrade has replaced the data plane and
// the control plane should restart into the new binary.
func (s *Server) UpgradeRequested() <-chan struct{} { return s.upgrades }

// Executable is the cutover binary the server runs its data plane from.
func (s *Server) Executable() string { return s.exe }

// KeepListeners duplicates the API's sockets for the restarted process
// and stops the unix socket's file from being removed on Close. It
// returns the environment entry that names them. The duplicates stay
// close-on-exec, so that no task or build started before the restart
// inherits them: ExecKeeping clears that at the exec itself.
func (s *Server) KeepListeners() ([]*os.File, string, error) {
	var files []*os.File
	var names []string
	keep := func(name string, ln net.Listener) error {
		if ln == nil {
			return nil
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
		fl, ok := ln.(interface{ File() (*os.File, error) })
		if !ok {
			return fmt.Errorf("the %s socket cannot be kept", name)
		}
		f, err := fl.File()
		if err != nil {
			return fmt.Errorf("keeping the %s socket: %w", name, err)
		}
		fd, err := dataplane.RawFD(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("keeping the %s socket: %w", name, err)
		}
		files = append(files, f)
		names = append(names, name+"="+strconv.Itoa(int(fd)))
		return nil
	}
	if err := keep("api", s.apiLn); err != nil {
		return nil, "", err
	}
	if err := keep("api-tcp", s.apiTCPRaw); err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, "", err
	}
	return files, listenFDsEnv + "=" + strings.Join(names, ","), nil
}

// InheritedListeners returns the API sockets a previous process of an
// upgrade kept for this one, by name, and removes their note from the
// environment so that no child inherits it.
func InheritedListeners() map[string]net.Listener {
	out := map[string]net.Listener{}
	for name, f := range dataplane.InheritedFiles(listenFDsEnv) {
		ln, err := net.FileListener(f)
		f.Close()
		if err == nil {
			out[name] = ln
		}
	}
	return out
}
