package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInheritedOnExec marks every descriptor cutover inherited beyond
// stdin, stdout and stderr close-on-exec, so that none reaches a build, a
// hook or a task it starts. Descriptors cutover opens itself are
// close-on-exec already; the sockets it is handed on purpose (named in
// its environment) are used by number in this process, not passed on by
// exec.
func closeInheritedOnExec() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	entries, err := os.ReadDir("/proc/self/fd") // kernels before 5.11
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
