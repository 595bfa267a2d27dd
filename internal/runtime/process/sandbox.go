package process

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox"
)

// A sandboxed task (Options.Sandbox) runs under bwrap: it sees its
// release directory read-only, a /tmp of its own (also its HOME), the
// system directories and the host's network, and runs as the sandbox's
// user. bwrap's outer process is the task's main process (its exit status
// is the task's); signals go to the process group of the sandbox's first
// process (taskState.Group), which holds the app and its children.

// confine wraps cmd in the driver's sandbox. It returns the read end of
// bwrap's status, from which sandboxGroup reads the sandbox's process
// group, and the write end, to close once cmd has started; nils without
// a sandbox.
func (d *Driver) confine(cmd *exec.Cmd, spec runtime.TaskSpec) (r, w *os.File, err error) {
	sb := d.opts.Sandbox
	if sb.Mode() == sandbox.ModeOff {
		return nil, nil, nil
	}
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, err
	}
	var binds []sandbox.Bind
	if spec.Dir != "" {
		binds = append(binds, sandbox.Bind{Host: spec.Dir})
	}
	if err := sb.Wrap(cmd, sandbox.Spec{Binds: binds, Dir: spec.Dir, Outlive: true, Info: w}); err != nil {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("sandboxing the task: %w", err)
	}
	return r, w, nil
}

// startCmd starts cmd, in the driver's sandbox when there is one, and
// returns the process group Stop signals (0: the main process's own).
func (d *Driver) startCmd(cmd *exec.Cmd, spec runtime.TaskSpec) (int, error) {
	info, infoW, err := d.confine(cmd, spec)
	if err != nil {
		return 0, err
	}
	err = cmd.Start()
	if infoW != nil {
		infoW.Close() // the child has its own copy
	}
	if err != nil || info == nil {
		if info != nil {
			info.Close()
		}
		return 0, err
	}
	group, err := sandboxGroup(info)
	if err != nil {
		d.discard(cmd.Process.Pid, -1)
	}
	return group, err
}

// sandboxGroup reads the sandbox's process group from bwrap's status,
// waiting at most a few seconds: bwrap writes it before the app starts.
func sandboxGroup(info *os.File) (int, error) {
	defer info.Close()
	info.SetReadDeadline(time.Now().Add(5 * time.Second))
	return sandbox.ChildPID(info)
}
