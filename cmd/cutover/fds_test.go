package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestInheritedDescriptorsDoNotReachChildren: a descriptor cutover was
// started with (a shell's redirection, a leaked socket) is not passed on
// to what cutover runs.
func TestInheritedDescriptorsDoNotReachChildren(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leak")
	fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_RDWR, 0o600) // no O_CLOEXEC, as inherited
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	listFDs := func() string {
		out, err := exec.Command("ls", "/proc/self/fd").Output()
		if err != nil {
			t.Fatal(err)
		}
		return " " + strings.Join(strings.Fields(string(out)), " ") + " "
	}
	if !strings.Contains(listFDs(), " "+strconv.Itoa(fd)+" ") {
		t.Fatalf("the test's descriptor %d did not reach the child to begin with", fd)
	}
	closeInheritedOnExec()
	if got := listFDs(); strings.Contains(got, " "+strconv.Itoa(fd)+" ") {
		t.Errorf("descriptor %d reached a child after closeInheritedOnExec: %s", fd, got)
	}
}
