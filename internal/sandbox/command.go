package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// systemDirs are the host directories every sandboxed command sees,
// read-only: what programs and their libraries need.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// The sizes of a sandbox's in-memory file systems, in bytes.
const (
	shmSize = 64 << 20
	runSize = 16 << 20
	varSize = 256 << 20
	tmpSize = 1 << 30
)

// Bind makes a host directory visible in the sandbox.
type Bind struct {
	Host     string // the directory on the host
	Path     string // where the command sees it; Host when empty
	Writable bool
}

// Spec is what a sandboxed command sees besides the system directories.
type Spec struct {
	Binds []Bind
	// Dir is the working directory as the command sees it; "/" when empty.
	Dir string
	// Outlive keeps the command running when cutover exits (tasks);
	// otherwise it is killed with cutover (builds, hooks).
	Outlive bool
	// Info, when set, receives bwrap's JSON status with the host pid of
	// the sandbox's first process (see ChildPID).
	Info *os.File
}

// Wrap changes cmd, made by exec.Command, to run inside the sandbox as
// spec says. cmd's environment and standard files are kept; its Dir is
// replaced by spec.Dir. In ModeOff cmd is left as it is.
func (s *Sandbox) Wrap(cmd *exec.Cmd, spec Spec) error {
	if s.Mode() == ModeOff {
		return nil
	}
	if cmd.Err != nil {
		return cmd.Err
	}
	args := []string{s.bwrap}
	args = append(args, s.namespaceArgs(spec)...)
	args = append(args, fileSystemArgs(spec)...)
	if spec.Info != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, spec.Info)
		args = append(args, "--info-fd", strconv.Itoa(2+len(cmd.ExtraFiles)))
	}
	args = append(args, "--")
	if s.mode == ModeFull {
		args = append(args, s.setpriv,
			"--reuid="+strconv.Itoa(s.uid), "--regid="+strconv.Itoa(s.gid), "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--")
	}
	args = append(args, program(cmd, spec))
	args = append(args, cmd.Args[1:]...)
	cmd.Path, cmd.Args, cmd.Dir = s.bwrap, args, "/"
	return nil
}

func (s *Sandbox) namespaceArgs(spec Spec) []string {
	args := []string{"--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try", "--new-session", "--cap-drop", "ALL"}
	if s.mode == ModeFull {
		// Only what setpriv needs to become the sandbox user, and what
		// --chdir needs to enter a directory of that user's; setpriv
		// drops them all before the command runs.
		args = append(args, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP",
			"--cap-add", "CAP_DAC_READ_SEARCH")
	}
	if !spec.Outlive {
		args = append(args, "--die-with-parent")
	}
	return args
}

func fileSystemArgs(spec Spec) []string {
	var args []string
	for _, dir := range systemDirs {
		fi, err := os.Lstat(dir)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(dir); err == nil {
				args = append(args, "--symlink", target, dir)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", dir, dir)
		}
	}
	// The in-memory file systems have sizes, so that a command without a
	// memory limit cannot fill the host's memory through them; a build's
	// /tmp is a directory on disk that its caller binds over this one.
	args = append(args, "--proc", "/proc", "--dev", "/dev",
		"--size", strconv.Itoa(shmSize), "--perms", "01777", "--tmpfs", "/dev/shm",
		"--size", strconv.Itoa(runSize), "--tmpfs", "/run",
		"--size", strconv.Itoa(varSize), "--tmpfs", "/var", "--perms", "01777", "--dir", "/var/tmp", "--symlink", "../run", "/var/run",
		"--size", strconv.Itoa(tmpSize), "--perms", "01777", "--tmpfs", "/tmp")
	made := map[string]bool{"/": true, "/tmp": true, "/var": true, "/var/tmp": true, "/run": true, "/proc": true, "/dev": true}
	for _, b := range sortedBinds(spec.Binds) {
		args = append(args, parentArgs(b.Path, made)...)
		flag := "--ro-bind"
		if b.Writable {
			flag = "--bind"
		}
		args = append(args, flag, b.Host, b.Path)
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	return append(args, "--chdir", dir)
}

// program is what the sandbox executes for cmd: the path exec.Command
// found on cutover's PATH when the sandbox sees it, else the bare name
// the caller gave, found on the command's own PATH inside the sandbox
// (cutover's PATH may start with directories the sandbox hides, such as
// /root/.pyenv/shims).
func program(cmd *exec.Cmd, spec Spec) string {
	name := cmd.Args[0]
	if strings.Contains(name, "/") || underSystemDir(cmd.Path) {
		return cmd.Path
	}
	for _, b := range spec.Binds {
		host := filepath.Clean(b.Host)
		if (b.Path == "" || b.Path == b.Host) && strings.HasPrefix(cmd.Path, host+"/") {
			return cmd.Path
		}
	}
	return name
}

// parentArgs makes the directories above a bind's path that bwrap would
// otherwise make 0700 root's, where the sandbox user could not pass.
func parentArgs(path string, made map[string]bool) []string {
	var args []string
	var parents []string
	for p := filepath.Dir(path); !made[p] && p != "."; p = filepath.Dir(p) {
		parents = append(parents, p)
	}
	for _, p := range slices.Backward(parents) {
		if underSystemDir(p) {
			continue
		}
		made[p] = true
		args = append(args, "--perms", "0755", "--dir", p)
	}
	return args
}

func underSystemDir(p string) bool {
	for _, dir := range systemDirs {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// sortedBinds gives each bind its path and puts parents before children,
// so that a bind inside another is not hidden by it.
func sortedBinds(binds []Bind) []Bind {
	out := make([]Bind, 0, len(binds))
	for _, b := range binds {
		if b.Path == "" {
			b.Path = b.Host
		}
		b.Path = filepath.Clean(b.Path)
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b Bind) int {
		return strings.Count(a.Path, "/") - strings.Count(b.Path, "/")
	})
	return out
}

// ChildPID reads bwrap's status from the read end of Spec.Info and
// returns the host pid of the sandbox's first process. Signals for the
// command go to that pid's process group: the command and everything it
// starts are in it, while bwrap's own outer process is not.
func ChildPID(r io.Reader) (int, error) {
	var info struct {
		ChildPID int `json:"child-pid"`
	}
	if err := json.NewDecoder(r).Decode(&info); err != nil {
		return 0, fmt.Errorf("reading the sandbox's status: %w", err)
	}
	if info.ChildPID <= 0 {
		return 0, errors.New("reading the sandbox's status: no child pid")
	}
	return info.ChildPID, nil
}

// Environ returns environ (cutover's inherited variables) as a sandboxed
// command starts from it: HOME is home, TMPDIR is /tmp, and cutover's
// USER and LOGNAME are left out, since they are not the command's.
func Environ(environ []string, home string) []string {
	out := []string{"HOME=" + home, "TMPDIR=/tmp"}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "HOME", "TMPDIR", "USER", "LOGNAME":
		default:
			out = append(out, kv)
		}
	}
	return out
}

// Bindable says whether the absolute path p may be bound into a sandbox
// as a command's own writable directory: not /, /var, the read-only
// system directories, or /proc, /dev and /run, which the sandbox makes.
func Bindable(p string) bool {
	if p == "/" || p == "/var" || underSystemDir(p) {
		return false
	}
	for _, dir := range []string{"/proc", "/dev", "/run", "/var/run"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return false
		}
	}
	return true
}
