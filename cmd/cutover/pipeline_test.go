package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// pipelineRepo makes a git repository of the test app: its cutover.yaml
// and a buildspec that "tests" (fails when the file FAIL exists) and
// copies the prebuilt binary, committed as bin/app, as the artifact (the
// build runs in a sandbox and sees only its checkout). It registers the app with
// the daemon, as `cutover up` would, and returns the repository.
func pipelineRepo(t *testing.T, c interface {
	PutApp(context.Context, config.App) error
}) string {
	t.Helper()
	built := testApp(t)
	repo := filepath.Join(t.TempDir(), "hello")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(built, "cutover.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	buildspec := `version: 0.2
phases:
  build:
    commands:
      - echo running tests
      - if [ -f FAIL ]; then echo "test failed"; exit 1; fi
      - cp bin/app app
artifacts:
  files: [app]
`
	bin, err := os.ReadFile(filepath.Join(built, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "bin", "app"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"cutover.yaml": string(cfg), "buildspec.yml": buildspec}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "version 1")
	app, err := config.LoadApp(repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutApp(context.Background(), *app); err != nil {
		t.Fatal(err)
	}
	return repo
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// pipelineGolden normalises what golden does not know about: the
// repository's path, commits, the build log's times, the daemon's
// address, release directories.
func pipelineGolden(t *testing.T, name, out, repo string) {
	t.Helper()
	out = strings.ReplaceAll(out, repo, "<repo>")
	for _, n := range []struct{ re, with string }{
		{`\b[0-9a-f]{40}\b`, "<sha>"},
		{`\b[0-9a-f]{7}\b`, "<sha>"},
		{`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?`, "<time>"},
		{`127\.0\.0\.1:\d+`, "<addr>"},
		{`\S+/releases/hello/\S+`, "<release>"},
		{`\S+/pipelines/hello/`, "<data>/pipelines/hello/"},
	} {
		out = regexp.MustCompile(n.re).ReplaceAllString(out, n.with)
	}
	golden(t, name, targetLines.ReplaceAllString(out, ""))
}

// TestPipelineCLI starts, follows, lists, shows and answers executions of
// a tiny app in a git repository through a real cutover.
func TestPipelineCLI(t *testing.T) {
	srv := daemon(t)
	select {
	case <-srv.Pipeline().Started():
	case <-time.After(10 * time.Second):
		t.Fatal("the pipeline did not start")
	}
	repo := pipelineRepo(t, srv.Controller())
	sock := func(args ...string) []string { return append(args, "--server", srv.SocketPath()) }

	out, err := cutover(t, sock("pipeline", "settings", "hello")...)
	if err != nil {
		t.Fatal(err)
	}
	pipelineGolden(t, "pipeline-settings", out, repo)
	if out, err := cutover(t, sock("pipeline", "settings", "hello", "--approval-timeout", "10")...); err == nil || !strings.Contains(out, `approval_timeout "10" is not a duration`) {
		t.Errorf("a bad duration: %v\n%s", err, out)
	}

	out, err = cutover(t, sock("pipeline", "start", "hello", "--wait")...)
	if err != nil {
		t.Fatalf("pipeline start --wait: %v", err)
	}
	if !strings.Contains(out, "│ running tests") || !strings.Contains(out, "Deploying hello: nothing → hello-r1") {
		t.Errorf("start --wait shows no build log or no deployment:\n%s", out)
	}
	pipelineGolden(t, "pipeline-start-wait", out, repo)

	out, err = cutover(t, sock("pipeline", "list", "hello")...)
	if err != nil {
		t.Fatal(err)
	}
	pipelineGolden(t, "pipeline-list", out, repo)
	out, err = cutover(t, sock("pipeline", "show", "hello-e1")...)
	if err != nil {
		t.Fatal(err)
	}
	pipelineGolden(t, "pipeline-show", out, repo)

	out, err = cutover(t, sock("pipeline", "logs", "hello-e1", "--json")...)
	if err != nil || !strings.Contains(out, `{"execution":"hello-e1","line":"running tests"}`) {
		t.Errorf("logs --json: %v\n%s", err, out)
	}
	out, err = cutover(t, sock("pipeline", "stop", "hello-e1")...)
	if err == nil || !strings.Contains(out, "execution is not active") {
		t.Errorf("stopping an ended execution: %v\n%s", err, out)
	}

	// A failing test: the build fails, nothing is deployed, exit code 1.
	if err := os.WriteFile(filepath.Join(repo, "FAIL"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "a failing test")
	out, err = cutover(t, sock("pipeline", "start", "hello", "--wait")...)
	if code := exitCode(err); code != exitFailed {
		t.Errorf("a failed build exited %d (%v), want %d", code, err, exitFailed)
	}
	pipelineGolden(t, "pipeline-start-fail", out, repo)

	// An approval, answered with reject over TCP with a deploy token.
	if _, err := cutover(t, sock("pipeline", "settings", "hello", "--approval", "--approval-timeout", "10m")...); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "rm", "-q", "FAIL")
	git(t, repo, "commit", "-q", "-m", "fixed")
	out, err = cutover(t, sock("token", "create", "--role", "deploy", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var tk api.NewToken
	if err := json.Unmarshal([]byte(out), &tk); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUTOVER_SERVER", "http://"+srv.APIAddr().String())
	t.Setenv("CUTOVER_TOKEN", tk.Secret)
	out, err = cutover(t, "pipeline", "start", "hello", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var e store.Execution
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	waitForExecution(t, srv.Pipeline().Get, e.ID, func(e store.Execution) bool {
		st := e.Stage("Approval")
		return st != nil && st.Status == store.StageInProgress
	})
	out, err = cutover(t, "pipeline", "reject", e.ID, "--comment", "not today")
	if err != nil || !strings.Contains(out, e.ID+": rejected") {
		t.Errorf("reject: %v\n%s", err, out)
	}
	e = waitForExecution(t, srv.Pipeline().Get, e.ID, func(e store.Execution) bool { return !e.Active() })
	if e.Status != store.ExecutionFailed || !strings.Contains(e.Error, "rejected by token:") || !strings.Contains(e.Error, "not today") {
		t.Errorf("after the reject: %s %q", e.Status, e.Error)
	}
	if out, err := cutover(t, "pipeline", "settings", "hello", "--poll", "1m"); err == nil || !strings.Contains(out, "needs admin") {
		t.Errorf("changing settings with a deploy token: %v\n%s", err, out)
	}
	out, err = cutover(t, "pipeline", "remote", "hello")
	if err != nil {
		t.Fatal(err)
	}
	pipelineGolden(t, "pipeline-remote", out, repo)
}

// waitForExecution polls get until cond holds for the execution.
func waitForExecution(t *testing.T, get func(context.Context, string) (store.Execution, error), id string, cond func(store.Execution) bool) store.Execution {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e, err := get(context.Background(), id)
		if err == nil && cond(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s: %+v, %v: timed out", id, e, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
