// Package sandboxtest gives tests of packages that run commands in a
// sandbox a real one.
package sandboxtest

import (
	"context"
	"os"
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
