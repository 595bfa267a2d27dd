package process

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox/sandboxtest"
)

// TestSandboxedTaskIsConfinedAndStopsGracefully runs a task from a
// release directory inside a 0700 data directory in the sandbox: it runs
// as the sandbox's user, reads its release, cannot read the data
// directory or write its release, and SIGTERM from Stop reaches its trap.
func TestSandboxedTaskIsConfinedAndStopsGracefully(t *testing.T) {
	sb := sandboxtest.Full(t)
	data := sandboxtest.DataDir(t)
	release := filepath.Join(data, "releases", "web", "r1")
	// As package release makes them: 0755 and 0444, in the 0700 data
	// directory.
	if err := os.MkdirAll(release, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(release, "app.txt"), []byte("release file"), 0o444)
	uid, _ := sb.User()

	script := `
cat app.txt; echo
test "$(id -u)" = ` + strconv.Itoa(uid) + ` && echo "user ok"
cat ` + filepath.Join(data, "secrets.key") + ` 2>/dev/null && echo "READ SECRET"
touch app.txt 2>/dev/null && echo "WROTE RELEASE"
echo x > "$HOME/h" && echo "home ok"
trap 'echo drained; exit 0' TERM
echo ready
while :; do sleep 0.05; done`
	d := newDriver(t, Options{StateDir: filepath.Join(data, "tasks"), Sandbox: sb})
	task, err := d.Start(context.Background(), runtime.TaskSpec{ID: "web-1", App: "web", Command: []string{"sh", "-c", script}, Dir: release})
	if err != nil {
		b, _ := os.ReadFile(logPath(d.opts.StateDir, "web-1"))
		t.Fatalf("%v; log:\n%s", err, b)
	}
	log := waitForLog(t, d, "web-1", "ready")
	for _, want := range []string{"release file", "user ok", "home ok"} {
		if !strings.Contains(log, want) {
			t.Errorf("task log lacks %q:\n%s", want, log)
		}
	}
	for _, bad := range []string{"READ SECRET", "WROTE RELEASE"} {
		if strings.Contains(log, bad) {
			t.Errorf("task log has %q:\n%s", bad, log)
		}
	}
	exit, err := d.Stop(context.Background(), task.ID, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	log = waitForLog(t, d, "web-1", "drained")
	if exit.Code != 0 {
		t.Errorf("exit %+v, want code 0 from the task's own SIGTERM trap; log:\n%s", exit, log)
	}
}
