package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// webRelease is a release directory holding the test app, built once.
var webRelease string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploy-test-release-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "web"), "./testdata/web")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test app:", err)
		os.Exit(1)
	}
	webRelease = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
