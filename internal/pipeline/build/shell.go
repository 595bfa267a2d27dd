package build

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errShellExited means a command ended the shell itself (exit, set -e, a
// fatal error), so the shell's state is lost.
var errShellExited = errors.New("the shell exited")

// shell is one long-lived shell process that runs a build's commands one
// at a time, so that variables, the working directory and exported
// variables carry over between commands and phases, as in CodeBuild 0.2.
//
// Commands are written to the shell's stdin, each wrapped so that its own
// stdin is /dev/null and followed by a line that prints a random marker
// and the command's exit status to fd 3. The shell's stdout, stderr and
// fd 3 share one pipe, so a command's output is always logged before its
// status arrives, and a command that redirects the shell's stdout
// (exec >file) does not hide the status. Commands run with fd 3 closed.
//
// The shell leads its own process group; when it exits or the build is
// cancelled, the whole group is killed, background processes included.
type shell struct {
	cmd    *exec.Cmd
	stdin  *os.File
	out    *os.File
	marker string
	status chan int      // exit statuses read from the output; closed at EOF
	done   chan struct{} // closed once the shell exited and its group was killed
	exit   int           // the shell's exit status, valid after done
	read   chan struct{} // closed when the output reader returned
}

// startShell starts the shell program in dir with env; everything it
// prints is copied to log. wrap, when not nil, may change the command
// before it starts (to run it in a sandbox).
func startShell(program, dir string, env []string, log io.Writer, wrap func(*exec.Cmd) error) (*shell, error) {
	path, err := exec.LookPath(program)
	if err != nil {
		return nil, fmt.Errorf("finding the shell %s: %w", program, err)
	}
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	p, err := openShellPipes()
	if err != nil {
		return nil, err
	}
	args := []string{program}
	if strings.HasSuffix(program, "bash") {
		args = append(args, "--noprofile", "--norc")
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        args,
		Dir:         dir,
		Env:         env,
		Stdin:       p.inR,
		Stdout:      p.outW,
		Stderr:      p.outW,
		ExtraFiles:  []*os.File{p.outW}, // fd 3: the status lines
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if wrap != nil {
		if err := wrap(cmd); err != nil {
			p.close()
			return nil, fmt.Errorf("sandboxing %s: %w", program, err)
		}
	}
	err = cmd.Start()
	p.inR.Close() // the shell's ends
	p.outW.Close()
	if err != nil {
		p.inW.Close()
		p.outR.Close()
		return nil, fmt.Errorf("starting %s: %w", program, err)
	}
	s := &shell{
		cmd:    cmd,
		stdin:  p.inW,
		out:    p.outR,
		marker: "__cutover_status_" + hex.EncodeToString(nonce),
		status: make(chan int, 1),
		done:   make(chan struct{}),
		read:   make(chan struct{}),
	}
	go s.readOutput(log)
	go func() {
		cmd.Wait()
		s.exit = cmd.ProcessState.ExitCode()
		s.killGroup()
		close(s.done)
	}()
	return s, nil
}

// shellPipes are the pipes of a shell: its stdin, and one for its
// stdout, stderr and status lines.
type shellPipes struct{ inR, inW, outR, outW *os.File }

// openShellPipes opens both pipes; on an error none is left open.
func openShellPipes() (shellPipes, error) {
	var p shellPipes
	var err error
	if p.inR, p.inW, err = os.Pipe(); err != nil {
		return p, err
	}
	if p.outR, p.outW, err = os.Pipe(); err != nil {
		p.inR.Close()
		p.inW.Close()
		return p, err
	}
	return p, nil
}

// close closes all four ends.
func (p shellPipes) close() {
	for _, f := range []*os.File{p.inR, p.inW, p.outR, p.outW} {
		f.Close()
	}
}

// run runs script in the shell and returns its exit status. The error is
// errShellExited when the script ended the shell (the status is then the
// shell's), or ctx's error when ctx ended first (the group is killed).
func (s *shell) run(ctx context.Context, script string) (int, error) {
	wrapped := fmt.Sprintf("{ eval %s\n} </dev/null 3>&-\ncommand printf '%%s %%d\\n' '%s' \"$?\" >&3\n", quote(script), s.marker)
	if _, err := io.WriteString(s.stdin, wrapped); err != nil {
		<-s.done
		return s.exit, errShellExited
	}
	select {
	case rc, ok := <-s.status:
		if ok {
			return rc, nil
		}
		<-s.done
		return s.exit, errShellExited
	case <-s.done:
		// The status line may still be in the pipe; background processes
		// that left the group can hold it open, so wait only briefly.
		select {
		case rc, ok := <-s.status:
			if ok {
				return rc, nil
			}
		case <-time.After(2 * time.Second):
		}
		return s.exit, errShellExited
	case <-ctx.Done():
		s.killGroup()
		return -1, ctx.Err()
	}
}

// close ends the shell: its stdin is closed so it exits, then the whole
// process group is killed.
func (s *shell) close() {
	s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.killGroup()
		<-s.done
	}
	select {
	case <-s.read:
	case <-time.After(2 * time.Second):
	}
	s.out.Close()
}

// killGroup kills the shell and every process of its group.
func (s *shell) killGroup() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
}

// readOutput copies the shell's output to log, taking out the status
// lines and sending their exit status on s.status.
func (s *shell) readOutput(log io.Writer) {
	defer close(s.read)
	defer close(s.status)
	r := bufio.NewReader(s.out)
	for {
		line, err := r.ReadString('\n')
		if i := strings.Index(line, s.marker); i >= 0 {
			if i > 0 {
				// The command's output did not end with a newline.
				io.WriteString(log, line[:i]+"\n")
			}
			rc, convErr := strconv.Atoi(strings.TrimSpace(line[i+len(s.marker):]))
			if convErr != nil {
				rc = -1
			}
			s.status <- rc
		} else if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			io.WriteString(log, line)
		}
		if err != nil {
			return
		}
	}
}

// quote quotes s for the shell as one single-quoted word.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
