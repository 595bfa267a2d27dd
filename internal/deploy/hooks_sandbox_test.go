package deploy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/sandbox/sandboxtest"
)

// TestCommandHookRunsConfined: a command hook (the app's code, which a
// deploy token can change with a push) reads its app directory but not
// cutover's data directory, socket or environment, and cannot write the
// app directory.
func TestCommandHookRunsConfined(t *testing.T) {
	sb := sandboxtest.Full(t)
	data := sandboxtest.DataDir(t)
	appDir := filepath.Join(data, "pipelines", "web", "exec-1", "src")
	if err := os.MkdirAll(appDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(appDir, "smoke.sh"), []byte("echo smoke ok\n"), 0o644)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "daemon-credential")

	script := `sh smoke.sh
cat ` + filepath.Join(data, "secrets.key") + ` 2>/dev/null && echo "READ SECRET"
test -e ` + filepath.Join(data, "cutover.sock") + ` && echo "SAW SOCKET"
test -n "$AWS_SECRET_ACCESS_KEY" && echo "SAW CREDENTIAL"
touch smoke.sh 2>/dev/null && echo "WROTE APP DIR"
test "$(id -u)" = 0 && echo "IS ROOT"
echo "event $CUTOVER_LIFECYCLE_EVENT"`
	var out bytes.Buffer
	p := HookPayload{DeploymentID: "d-1", LifecycleEvent: "AfterInstall", App: "web", Revision: "r1"}
	if err := execHook(context.Background(), sb, appDir, []string{"sh", "-c", script}, p, &out); err != nil {
		t.Fatalf("hook: %v\n%s", err, out.String())
	}
	for _, want := range []string{"smoke ok", "event AfterInstall"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("hook output lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range []string{"READ SECRET", "SAW SOCKET", "SAW CREDENTIAL", "WROTE APP DIR", "IS ROOT"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("hook output has %q:\n%s", bad, out.String())
		}
	}
}
