package docker

import (
	"strings"
	"testing"
	"time"
)

// TestOneOffExitAtOnceIsItsResult: a one-off task (a release command)
// that exits at once has started; its exit code and output are its
// result, where a service task would be a failed start.
func TestOneOffExitAtOnceIsItsResult(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{StartCheck: 10 * time.Second})
	spec := e.spec(t, "a", map[string]string{"EXIT_NOW": "3"})
	spec.OneOff = true

	start(t, d, spec)
	exit, err := d.Wait(t.Context(), spec.ID)
	if err != nil || exit.Code != 3 {
		t.Fatalf("Wait = %+v, %v; want code 3", exit, err)
	}
	if out := waitForLog(t, d, spec.ID, "EXIT_NOW is set"); !strings.Contains(out, "fatal: EXIT_NOW is set") {
		t.Errorf("logs %q", out)
	}
}
