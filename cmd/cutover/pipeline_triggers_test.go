package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPipelineTriggerSettingsCLI sets the pipeline's branch and trigger
// filters with cutover pipeline settings through a real cutover, and
// refuses bad ones without changing anything.
func TestPipelineTriggerSettingsCLI(t *testing.T) {
	srv := daemon(t)
	select {
	case <-srv.Pipeline().Started():
	case <-time.After(10 * time.Second):
		t.Fatal("the pipeline did not start")
	}
	repo := pipelineRepo(t, srv.Controller())
	sock := func(args ...string) []string { return append(args, "--server", srv.SocketPath()) }

	out, err := cutover(t, sock("pipeline", "settings", "hello", "--push-path-exclude", "docs/**", "--push-path-exclude", "**/*.md",
		"--tag", "v*", "--tag-exclude", "v*-rc*", "--pr-branch", "main", "--pr-event", "open", "--pr-event", "updated")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pipelineGolden(t, "pipeline-settings-triggers", out, repo)

	before, _ := cutover(t, sock("pipeline", "settings", "hello", "--json")...)
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--tag", "v[0-9"}, `triggers.push[0].tags.includes: pattern "v[0-9": [ without ]`},
		{[]string{"--pr-event", "merged"}, `triggers.pull_request[0].events: "merged" is not an event: use open, updated or closed`},
		{[]string{"--branch", "-x"}, `branch "-x" is not a valid git ref name`},
		{[]string{"--triggers", "none", "--tag", "v*"}, "--triggers replaces every filter"},
	}
	for _, b := range bad {
		out, err := cutover(t, sock(append([]string{"pipeline", "settings", "hello"}, b.args...)...)...)
		if err == nil || !strings.Contains(out, b.want) {
			t.Errorf("settings %v: %v\n%s\nwant an error saying %q", b.args, err, out, b.want)
		}
	}
	if after, _ := cutover(t, sock("pipeline", "settings", "hello", "--json")...); after != before {
		t.Errorf("refused settings changed them:\n%s\nwas\n%s", after, before)
	}

	// A JSON file as the API takes it, and a branch of its own.
	file := filepath.Join(t.TempDir(), "triggers.json")
	os.WriteFile(file, []byte(`{"push": [{"branches": {"includes": ["release/**"], "excludes": ["release/old"]}}]}`), 0o600)
	out, err = cutover(t, sock("pipeline", "settings", "hello", "--triggers", file, "--branch", "trunk")...)
	if err != nil || !strings.Contains(out, "branch         trunk\n") || !strings.Contains(out, "triggers       push to branches release/** but not release/old\n") {
		t.Fatalf("from a file: %v\n%s", err, out)
	}
	os.WriteFile(file, []byte(`{"push": [{"branch": {"includes": ["main"]}}]}`), 0o600)
	if out, err := cutover(t, sock("pipeline", "settings", "hello", "--triggers", file)...); err == nil || !strings.Contains(out, `unknown field "branch"`) {
		t.Errorf("a file with an unknown field: %v\n%s", err, out)
	}
	out, err = cutover(t, sock("pipeline", "settings", "hello", "--triggers", "none", "--branch", "")...)
	if err != nil || !strings.Contains(out, "branch         main (cutover.yaml's source.branch)\n") || !strings.Contains(out, "pushes to main (no trigger filters)") {
		t.Fatalf("removing them: %v\n%s", err, out)
	}
}
