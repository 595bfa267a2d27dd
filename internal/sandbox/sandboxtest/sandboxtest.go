// Package sandboxtest gives tests of packages that run commands in a
// sandbox a real one.
package sandboxtest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/cutover/cutover/internal/sandbox"
)

// Full returns a sandbox in sandbox.ModeFull, or skips the test where
// there cannot be one (not root, no bwrap) — unless
// CUTOVER_REQUIRE_SANDBOX=1, as in the README's test command, where it
// fails instead.
func Full(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if sb.Mode() != sandbox.ModeFull {
		if os.Getenv("CUTOVER_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("no full sandbox here: %s", sb.Reason())
		}
		t.Skipf("no full sandbox here: %s", sb.Reason())
	}
	return sb
}

// DataDir makes a stand-in for cutover's data directory, what a
// sandboxed command must not reach: mode 0700, with secrets.key (0600)
// and a listening unix socket cutover.sock, closed at the end of the
// test. The test makes its workspaces or releases inside it.
func DataDir(t testing.TB) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "secrets.key"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(data, "cutover.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return data
}
