package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFailedFirstDeployKeepsCutoverUp: `cutover up` on an app whose
// release cannot be made (a symlink out of the app directory) says what
// failed and keeps serving its API; the user fixes the app, deploys it,
// and production answers. With --exit-on-failure the same start exits
// non-zero, for scripts.
func TestFailedFirstDeployKeepsCutoverUp(t *testing.T) {
	a := newHelloApp(t, nil)
	leak := filepath.Join(a.dir, "leak")
	if err := os.Symlink("/etc/passwd", leak); err != nil {
		t.Fatal(err)
	}
	p := start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	waitFor(t, "cutover up to report the failed deployment", 30*time.Second, func() bool {
		return strings.Contains(p.output(), "did not start")
	})
	if !strings.Contains(p.output(), `leak: symlink "/etc/passwd" resolves to /etc/passwd, outside the release`) {
		t.Errorf("the failure does not name the link:\n%s", p.output())
	}
	select {
	case <-p.done:
		t.Fatalf("cutover up exited after the failed deployment:\n%s", p.output())
	case <-time.After(time.Second):
	}
	if out, code := run(t, "status", "--data", a.data); code != 0 {
		t.Fatalf("cutover status after the failed deployment: exit %d\n%s", code, out)
	}

	os.Remove(leak)
	if out, code := a.deploy(t); code != 0 {
		t.Fatalf("deploy after the fix: exit %d\n%s", code, out)
	}
	a.waitVersion(t, "1.0.0", 10*time.Second)
}

func TestExitOnFailure(t *testing.T) {
	a := newHelloApp(t, nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(a.dir, "leak")); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "up", a.dir, "--data", a.data, "--api-addr", "", "--exit-on-failure")
	if code == 0 || !strings.Contains(out, "outside the release") {
		t.Fatalf("cutover up --exit-on-failure: exit %d\n%s", code, out)
	}
}
