package main

import (
	"strings"
	"testing"
	"time"
)

// TestPipelinePreviewSettingsCLI sets preview settings with cutover
// pipeline settings through a real cutover, refuses bad ones without
// changing anything, and removes them with --no-preview.
func TestPipelinePreviewSettingsCLI(t *testing.T) {
	srv := daemon(t)
	select {
	case <-srv.Pipeline().Started():
	case <-time.After(10 * time.Second):
		t.Fatal("the pipeline did not start")
	}
	pipelineRepo(t, srv.Controller())
	sock := func(args ...string) []string {
		return append(append([]string{"pipeline", "settings", "hello"}, args...), "--server", srv.SocketPath())
	}

	out, err := cutover(t, sock("--preview-domain", "*.hello.example.com", "--preview-limit", "3", "--preview-idle", "24h",
		"--preview-env", "MODE=preview", "--preview-branch", "preview/**")...)
	want := "  previews       per pull request at *.hello.example.com, 1 task(s) each, at most 3, destroyed after 24h idle; pushes to branches preview/**; env MODE\n"
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("%v\n%s\nwant the line\n%s", err, out, want)
	}
	// Another flag keeps the rest.
	if out, err := cutover(t, sock("--preview-count", "2")...); err != nil || !strings.Contains(out, "2 task(s) each, at most 3, destroyed after 24h idle") {
		t.Fatalf("--preview-count 2: %v\n%s", err, out)
	}

	before, _ := cutover(t, sock("--json")...)
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--preview-domain", "hello.example.com"}, `preview.domain "hello.example.com": valid: a wildcard of lowercase DNS labels`},
		{[]string{"--preview-limit", "1000"}, "preview.limit 1000: valid: 1-100"},
		{[]string{"--preview-idle", "soon"}, `preview.idle "soon" is not a duration`},
		{[]string{"--preview-idle", "10s"}, "preview.idle 10s: valid: at least 1m"},
		{[]string{"--preview-env", "MODE"}, `--preview-env "MODE": write it NAME=VALUE`},
		{[]string{"--no-preview", "--preview-limit", "2"}, "--no-preview removes the preview settings: give it alone"},
	}
	for _, b := range bad {
		out, err := cutover(t, sock(b.args...)...)
		if err == nil || !strings.Contains(out, b.want) {
			t.Errorf("settings %v: %v\n%s\nwant an error saying %q", b.args, err, out, b.want)
		}
	}
	if after, _ := cutover(t, sock("--json")...); after != before {
		t.Errorf("refused settings changed them:\n%s\nwas\n%s", after, before)
	}
	if out, err := cutover(t, sock("--no-preview")...); err != nil || strings.Contains(out, "previews") {
		t.Errorf("--no-preview: %v\n%s", err, out)
	}
}
