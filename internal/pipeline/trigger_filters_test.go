package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// skippedTriggers returns the app's trigger.skipped events' data.
func skippedTriggers(t *testing.T, h *harness) []SkippedTrigger {
	t.Helper()
	events, err := h.store.Events(context.Background(), store.EventFilter{App: "web", Types: []string{EventTriggerSkipped}})
	if err != nil {
		t.Fatal(err)
	}
	var out []SkippedTrigger
	for _, e := range events {
		var s SkippedTrigger
		if err := json.Unmarshal(e.Data, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestTriggerFiltersThroughTheRemoteAndWebhooks: with a push filter on
// main that leaves docs/ out, a tag filter v* and a pull_request filter
// into main, a docs-only push starts nothing and says why, a v* tag
// pushed to the built-in remote deploys, another tag does not, and a
// GitHub pull request opened into main runs the pipeline on its head.
func TestTriggerFiltersThroughTheRemoteAndWebhooks(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	ctx := context.Background()
	first := h.wait(h.push(repo).ID)
	if first.Status != store.ExecutionSucceeded || first.TriggeredBy == nil || first.TriggeredBy.Kind != KindPush ||
		!first.TriggeredBy.FilesUnknown {
		t.Fatalf("first execution = %+v; want a push of a new branch (files unknown) that succeeded", first)
	}
	err := h.pipe.SetSettings(ctx, "web", Settings{Triggers: Triggers{
		Push: []PushFilter{
			{Branches: &Patterns{Includes: []string{"main"}}, FilePaths: &Patterns{Excludes: []string{"docs/**"}}},
			{Tags: &Patterns{Includes: []string{"v*"}}},
		},
		PullRequest: []PullRequestFilter{{Branches: &Patterns{Includes: []string{"main"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := h.pipe.Secret(ctx, "web")
	remote := "http://git:" + secret + "@" + h.host + "/git/web.git"

	// A docs-only push to main starts nothing and says why.
	os.Mkdir(filepath.Join(repo, "docs"), 0o755)
	h.commit(repo, "docs", map[string]string{"docs/guide.md": "# Guide\n"})
	gitRun(t, repo, "push", "-q", remote, "HEAD:main")
	if es, _ := h.pipe.List(ctx, "web", 0); len(es) != 1 {
		t.Fatalf("%d executions after a docs-only push, want still 1", len(es))
	}
	skipped := skippedTriggers(t, h)
	if len(skipped) != 1 || skipped[0].Kind != KindPush || skipped[0].Ref != "refs/heads/main" || skipped[0].ChangedFiles != 1 ||
		skipped[0].Source != "git" || !strings.Contains(skipped[0].Reason, "none of its 1 changed files matches the file_paths filter") {
		t.Fatalf("trigger.skipped = %+v", skipped)
	}

	// A tag v2.0.0 (annotated) deploys its commit; a tag test-1 does not.
	v2 := h.commit(repo, "version 2", map[string]string{"version.txt": "2\n"})
	gitRun(t, repo, "tag", "-a", "-m", "release 2", "v2.0.0")
	gitRun(t, repo, "tag", "test-1")
	gitRun(t, repo, "push", "-q", remote, "refs/tags/v2.0.0", "refs/tags/test-1")
	es, _ := h.pipe.List(ctx, "web", 0)
	if len(es) != 2 {
		t.Fatalf("%d executions after pushing tags v2.0.0 and test-1, want 2", len(es))
	}
	tagged := h.wait(es[0].ID)
	if tagged.Status != store.ExecutionSucceeded || tagged.Commit != v2 || tagged.TriggeredBy == nil ||
		tagged.TriggeredBy.Kind != KindTag || tagged.TriggeredBy.Ref != "refs/tags/v2.0.0" || tagged.Branch != "" {
		t.Fatalf("tag execution = %+v (by %+v)\n%s", tagged, tagged.TriggeredBy, h.log(tagged.ID))
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 2 ") {
		t.Fatalf("production serves %q, %v; want version 2", body, err)
	}
	if skipped = skippedTriggers(t, h); len(skipped) != 2 || skipped[1].Ref != "refs/tags/test-1" || !strings.Contains(skipped[1].Reason, "no push filter's tags match") {
		t.Fatalf("trigger.skipped = %+v", skipped)
	}

	// A GitHub pull request opened into main runs the pipeline on its
	// head commit; one into develop does not.
	v3 := h.commit(repo, "version 3", map[string]string{"version.txt": "3\n"})
	pr := func(base string) []byte {
		body := bytes.ReplaceAll(readPayload(t, "github-pull_request-opened.json"), []byte(payloadB), []byte(v3))
		return bytes.ReplaceAll(body, []byte(`"ref": "main"`), []byte(`"ref": "`+base+`"`))
	}
	headers := func(body []byte) map[string]string {
		return map[string]string{"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": "sha256=" + sign(secret, body)}
	}
	code, resp := postHook(t, h, "web", pr("develop"), headers(pr("develop")))
	if code != http.StatusAccepted || !strings.Contains(resp.Message, "pull request #42 (open, feature/greeting into develop): no pull_request filter matches") {
		t.Fatalf("pull request into develop: %d %+v", code, resp)
	}
	code, resp = postHook(t, h, "web", pr("main"), headers(pr("main")))
	if code != http.StatusCreated || resp.Execution == "" {
		t.Fatalf("pull request into main: %d %+v", code, resp)
	}
	e := h.wait(resp.Execution)
	by := e.TriggeredBy
	if e.Status != store.ExecutionSucceeded || e.Commit != v3 || e.Branch != "feature/greeting" || by == nil || by.Kind != KindPullRequest ||
		by.PullRequest == nil || by.PullRequest.Number != 42 || by.PullRequest.Action != PROpen || by.PullRequest.Base != "main" {
		t.Fatalf("pull request execution = %+v (by %+v)\n%s", e, by, h.log(e.ID))
	}
	if skipped = skippedTriggers(t, h); len(skipped) != 3 || skipped[2].PullRequest == nil || skipped[2].Source != "webhook:github" {
		t.Fatalf("trigger.skipped = %+v", skipped)
	}
}
