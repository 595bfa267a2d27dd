package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/config"
)

// copyExample copies examples/hello-node into a temporary directory.
func copyExample(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../../examples/hello-node")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func buildExample(t *testing.T, dir string) (Result, string) {
	t.Helper()
	spec, err := config.LoadBuildspec(filepath.Join(dir, config.BuildspecFile))
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := Run(context.Background(), spec, Options{
		SrcDir:        dir,
		ArtifactsDir:  filepath.Join(t.TempDir(), "artifacts"),
		Log:           &log,
		SourceVersion: "0123456789abcdef",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build log:\n%s", log.String())
	return res, log.String()
}

func TestExampleHelloNodeBuilds(t *testing.T) {
	res, log := buildExample(t, copyExample(t))
	if !res.Succeeded {
		t.Fatalf("hello-node build failed: %+v", res)
	}
	if !strings.Contains(log, "Build finished for 0123456") {
		t.Error("IMAGE_TAG from pre_build did not reach post_build")
	}
	for _, want := range []string{"app.js", "package.json", "scripts/smoke.sh"} {
		if !slices.Contains(res.Artifacts, want) {
			t.Errorf("artifacts %q lack %s", res.Artifacts, want)
		}
	}
}

func TestExampleHelloNodeFailingTestFailsTheBuild(t *testing.T) {
	dir := copyExample(t)
	testFile := filepath.Join(dir, "test/app.test.js")
	data, err := os.ReadFile(testFile)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "assert.strictEqual(res.status, 404)", "assert.strictEqual(res.status, 200)", 1)
	if broken == string(data) {
		t.Fatal("could not break the test file")
	}
	if err := os.WriteFile(testFile, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	res, log := buildExample(t, dir)
	if res.Succeeded {
		t.Fatal("the build succeeded with a failing test")
	}
	build := res.Phases[slices.IndexFunc(res.Phases, func(p PhaseResult) bool { return p.Name == "BUILD" })]
	if build.Status != StatusFailed || build.FailedCommand != "npm test" {
		t.Errorf("BUILD = %+v, want FAILED at npm test", build)
	}
	if !strings.Contains(log, "Entering phase POST_BUILD") {
		t.Error("post_build did not run after the failed build phase")
	}
}
