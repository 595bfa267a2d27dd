package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func cutoverBuild(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetArgs(append([]string{"build"}, args...))
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	t.Logf("cutover build %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

func writeBuildSource(t *testing.T, buildspec string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"buildspec.yml": buildspec, "src/main.txt": "source\n"}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildCommandBuildsInACleanCopy(t *testing.T) {
	dir := writeBuildSource(t, `version: 0.2
env:
  exported-variables: [TAG]
phases:
  build:
    commands:
      - mkdir -p out && cp src/main.txt out/result.txt && echo "$GREETING" >> out/result.txt
      - TAG=v1
artifacts:
  files: ['out/**/*']
`)
	out, err := cutoverBuild(t, dir, "--no-cache", "--env", "GREETING=hi")
	if err != nil {
		t.Fatalf("cutover build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("the build wrote into the source directory")
	}
	data, err := os.ReadFile(filepath.Join(dir, ".cutover/artifacts/out/result.txt"))
	if err != nil || string(data) != "source\nhi\n" {
		t.Errorf("artifact = %q, %v", data, err)
	}
	for _, want := range []string{"Entering phase BUILD", "Build SUCCEEDED", "TAG=v1", "Artifacts: 1 files"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// A second build replaces the default artifacts directory.
	if _, err := cutoverBuild(t, dir, "--no-cache", "--env", "GREETING=again"); err != nil {
		t.Fatalf("second build: %v", err)
	}
	data, _ = os.ReadFile(filepath.Join(dir, ".cutover/artifacts/out/result.txt"))
	if string(data) != "source\nagain\n" {
		t.Errorf("artifact after the second build = %q", data)
	}
}

func TestBuildCommandFailingBuildExitsOne(t *testing.T) {
	dir := writeBuildSource(t, "version: 0.2\nphases:\n  build:\n    commands: ['exit 3']\n")
	out, err := cutoverBuild(t, dir, "--no-cache")
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if !strings.Contains(out, "Build FAILED") || !strings.Contains(out, "exit 3 (exit status 3)") {
		t.Error("the summary does not show the failed command")
	}
}

func TestBuildCommandInvalidBuildspec(t *testing.T) {
	dir := writeBuildSource(t, "version: 0.2\nphases:\n  build:\n    comands: [x]\n")
	_, err := cutoverBuild(t, dir)
	if err == nil || !strings.Contains(err.Error(), "buildspec.yml:4:5: phases.build.comands: unknown field") {
		t.Fatalf("err = %v, want file:line:col", err)
	}
}

func TestBuildCommandSecretsFile(t *testing.T) {
	dir := writeBuildSource(t, "version: 0.2\nenv:\n  parameter-store: {TOKEN: /ci/token}\nphases:\n  build:\n    commands: ['echo \"token is $TOKEN\"']\n")
	secrets := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(secrets, []byte("/ci/token=swordfish\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cutoverBuild(t, dir, "--no-cache", "--secrets", secrets)
	if err != nil {
		t.Fatalf("cutover build: %v", err)
	}
	if !strings.Contains(out, "token is ***") || strings.Contains(out, "swordfish") {
		t.Error("the secret is not set, or not masked")
	}
	if _, err := cutoverBuild(t, dir, "--no-cache", "--secrets", ""); err == nil || !strings.Contains(err.Error(), `no secret "/ci/token"`) {
		t.Errorf("without the secrets file: err = %v", err)
	}
}

func TestBuildCommandInPlace(t *testing.T) {
	dir := writeBuildSource(t, "version: 0.2\nphases:\n  build:\n    commands: ['echo built > built.txt']\n")
	if _, err := cutoverBuild(t, dir, "--no-cache", "--in-place"); err != nil {
		t.Fatalf("cutover build: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "built.txt")); err != nil || string(data) != "built\n" {
		t.Errorf("built.txt = %q, %v; want the build to write in dir", data, err)
	}
}
