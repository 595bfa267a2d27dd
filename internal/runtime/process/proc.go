package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	state      byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	startTicks uint64 // field 22: start time in clock ticks since boot
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// parseProcStat parses a /proc/<pid>/stat line. The command name (field 2)
// is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat: no ')'")
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3, so field 22 is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return procStat{}, errors.New("malformed /proc stat: too few fields")
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat start time: %w", err)
	}
	return procStat{state: fields[0][0], startTicks: ticks}, nil
}

// alive reports whether the process pid that started at ticks is still
// running. A zombie has exited and counts as not alive.
func alive(pid int, ticks uint64) bool {
	st, err := readProcStat(pid)
	if err != nil || st.startTicks != ticks {
		return false
	}
	return st.state != 'Z' && st.state != 'X'
}

// reusedPID reports whether pid now belongs to a process other than the
// one that started at ticks.
func reusedPID(pid int, ticks uint64) bool {
	st, err := readProcStat(pid)
	return err == nil && st.startTicks != ticks
}

// killGroup sends sig to the process group of the task whose main process
// is pid (a task runs in its own session, so its pgid is its pid).
func killGroup(pid int, sig unix.Signal) error {
	if err := unix.Kill(-pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}

// reap collects the exit status of pid, which must have exited. Only the
// parent can do that: for a task adopted from an earlier cutover process
// it reports false, as it does when pid was reused meanwhile.
func reap(pid int, ticks uint64) (unix.WaitStatus, bool) {
	st, err := readProcStat(pid)
	if err != nil || st.startTicks != ticks {
		return 0, false
	}
	var ws unix.WaitStatus
	for {
		wpid, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return ws, err == nil && wpid == pid
	}
}

// exitFromStatus describes a wait status as an Exit.
func exitFromStatus(ws unix.WaitStatus) runtime.Exit {
	switch {
	case ws.Exited():
		return runtime.Exit{Code: ws.ExitStatus(), Reason: fmt.Sprintf("exited with code %d", ws.ExitStatus())}
	case ws.Signaled():
		name := unix.SignalName(ws.Signal())
		if name == "" {
			name = fmt.Sprintf("signal %d", int(ws.Signal()))
		}
		return runtime.Exit{Code: -1, Signal: name, Reason: "killed by " + name}
	default:
		return runtime.Exit{Code: -1, Reason: fmt.Sprintf("ended with wait status %#x", uint32(ws))}
	}
}
