package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPreviewApps: with preview settings (domain *.prev.example.test,
// limit 1), a GitHub pull request opened creates the app prev-pr-42 and
// deploys its head, served for Host pr-42.prev.example.test while the
// main app keeps serving everyone else; its URL is notified
// (preview.deployed); a GitLab merge request opened meanwhile is refused
// by the limit (409, preview.refused); new commits (Gitea's
// synchronized) deploy to the preview; the pull request closed destroys
// it (tasks stopped, releases removed, its host served by the main app
// again). The main app, under constant load, fails no request.
func TestPreviewApps(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("Debian's python3 is needed; scripts/test.sh installs it")
	}
	a := newPushedApp(t, "prev", "pyapp")
	a.up(t, "pyapp version 1\n")
	secret := a.secret(t)
	recv := startReceiver(t, 0)
	if out, code := runStdin(t, "e2e-preview-hook-secret", "notifications", "add", a.name, recv.url, "--events", "preview.*", "--secret-stdin", "--data", a.data); code != 0 {
		t.Fatalf("notifications add: exit %d\n%s", code, out)
	}
	out, code := run(t, "pipeline", "settings", a.name, "--data", a.data, "--preview-domain", "*.prev.example.test", "--preview-limit", "1")
	if code != 0 || !strings.Contains(out, "previews       per pull request at *.prev.example.test, 1 task(s) each, at most 1, destroyed after 72h idle") {
		t.Fatalf("pipeline settings: exit %d\n%s", code, out)
	}
	host := "pr-42.prev.example.test"
	wantURL := fmt.Sprintf("http://%s:%d", host, a.prod)
	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)

	// Pull request #42 opened on GitHub: its head is built and deployed
	// as prev-pr-42, at its own host.
	a.git(t, "checkout", "-q", "-b", "feature/login")
	a.replace(t, "server.py", `VERSION = "1"`, `VERSION = "pr42-1"`)
	a.commit(t, "pull request version 1")
	head1 := a.git(t, "rev-parse", "HEAD")
	a.git(t, "update-ref", "refs/pull/42/head", head1)
	code, msg := a.postHook(t, secret, prEvent("github", "opened", 42, "feature/login", head1))
	if code != http.StatusCreated || !strings.Contains(msg, "preview app prev-pr-42 ("+wantURL+"): execution started") {
		t.Fatalf("pull request opened: %d %s", code, msg)
	}
	preview := *a
	preview.name = "prev-pr-42"
	a.mustSucceed(t, preview.waitExecution(t, head1))
	waitHostBody(t, a.addr(), host, "pyapp version pr42-1\n")
	a.checkServes(t, "pyapp version 1\n", 20)
	deployed := waitNotified(t, recv, "preview.deployed", 1)
	if deployed.PreviewApp != "prev-pr-42" || deployed.PreviewURL != wantURL || deployed.PullRequest != 42 || deployed.App != a.name ||
		!strings.Contains(deployed.Text, "is deployed at "+wantURL) {
		t.Errorf("preview.deployed = %+v", deployed)
	}
	if out, _ := run(t, "apps", "--data", a.data); !strings.Contains(out, "PREVIEW OF") || !strings.Contains(out, "prev #42 deployed "+wantURL) {
		t.Errorf("cutover apps does not mark the preview app:\n%s", out)
	}

	// Merge request !43 opened on GitLab: over the limit of 1, refused.
	code, msg = a.postHook(t, secret, prEvent("gitlab", "open", 43, "feature/other", head1))
	if code != http.StatusConflict || !strings.Contains(msg, "prev runs 1 preview apps, its limit is 1; prev-pr-43 was not created") {
		t.Errorf("merge request over the limit: %d %s", code, msg)
	}
	if refused := waitNotified(t, recv, "preview.refused", 1); refused.PullRequest != 43 || !strings.Contains(refused.Text, "its limit is 1") {
		t.Errorf("preview.refused = %+v", refused)
	}
	if out, _ := run(t, "apps", "--data", a.data); strings.Contains(out, "prev-pr-43") {
		t.Errorf("the refused preview app exists:\n%s", out)
	}

	// New commits on the pull request (Gitea's synchronized) deploy to
	// the preview.
	a.replace(t, "server.py", `VERSION = "pr42-1"`, `VERSION = "pr42-2"`)
	a.commit(t, "pull request version 2")
	head2 := a.git(t, "rev-parse", "HEAD")
	a.git(t, "update-ref", "refs/pull/42/head", head2)
	if code, msg := a.postHook(t, secret, prEvent("gitea", "synchronized", 42, "feature/login", head2)); code != http.StatusCreated {
		t.Fatalf("pull request updated: %d %s", code, msg)
	}
	a.mustSucceed(t, preview.waitExecution(t, head2))
	waitHostBody(t, a.addr(), host, "pyapp version pr42-2\n")
	waitNotified(t, recv, "preview.deployed", 2)

	// Closed (merged) on GitHub: the preview is destroyed, and its host
	// falls back to the main app, the listener's default.
	if code, msg := a.postHook(t, secret, prEvent("github", "closed", 42, "feature/login", head2)); code != http.StatusAccepted ||
		!strings.Contains(msg, "preview app prev-pr-42 is being destroyed: pull request #42 merged") {
		t.Fatalf("pull request closed: %d %s", code, msg)
	}
	destroyed := waitNotified(t, recv, "preview.destroyed", 1)
	if destroyed.PreviewApp != "prev-pr-42" || !strings.Contains(destroyed.Text, "destroyed: pull request #42 merged") {
		t.Errorf("preview.destroyed = %+v", destroyed)
	}
	waitHostBody(t, a.addr(), host, "pyapp version 1\n")
	if out, _ := run(t, "apps", "--data", a.data); strings.Contains(out, "prev-pr-42") {
		t.Errorf("cutover apps still lists the destroyed preview:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(a.data, "releases", "prev-pr-42")); !os.IsNotExist(err) {
		t.Errorf("the preview's releases are still there: %v", err)
	}
	l.finish(t)
}

// prEvent is a pull (merge) request event as forge sends it: action is
// the forge's own (GitHub opened/synchronize/closed, Gitea synchronized,
// GitLab open/update/close); a GitHub closed event is a merge.
func prEvent(forge, action string, number int, branch, head string) forgeEvent {
	if forge == "gitlab" {
		attrs := map[string]any{"iid": number, "action": action, "source_branch": branch, "target_branch": "main", "title": "Login",
			"url": fmt.Sprintf("https://gitlab.example.com/e2e/prev/-/merge_requests/%d", number), "last_commit": map[string]string{"id": head}}
		return forgeEvent{forge: forge, event: "Merge Request Hook", body: mustJSON(map[string]any{"object_kind": "merge_request", "object_attributes": attrs})}
	}
	pr := map[string]any{"number": number, "title": "Login", "html_url": fmt.Sprintf("https://%s.example.com/e2e/prev/pulls/%d", forge, number),
		"merged": action == "closed", "head": map[string]string{"ref": branch, "sha": head}, "base": map[string]string{"ref": "main"}}
	event := "pull_request"
	if forge == "gitea" && action == "synchronized" {
		event = "pull_request_sync"
	}
	return forgeEvent{forge: forge, event: event, body: mustJSON(map[string]any{"action": action, "number": number, "pull_request": pr})}
}

// waitHostBody waits until addr answers 200 with body for Host host.
func waitHostBody(t *testing.T, addr, host, body string) {
	t.Helper()
	client := newClient()
	waitFor(t, fmt.Sprintf("%s to answer %q", host, body), 30*time.Second, func() bool {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == 200 && string(got) == body
	})
}

// previewNotice is what the test reads of a preview.* notification.
type previewNotice struct {
	Event, App, Status, Text, Reason string
	PreviewApp                       string `json:"preview_app"`
	PreviewURL                       string `json:"preview_url"`
	PullRequest                      int    `json:"pull_request"`
}

// waitNotified waits for the n-th delivery of event and returns it.
func waitNotified(t *testing.T, recv *receiver, event string, n int) previewNotice {
	t.Helper()
	var got []previewNotice
	waitFor(t, fmt.Sprintf("notification %d of %s", n, event), 60*time.Second, func() bool {
		got = nil
		for _, d := range recv.requests() {
			if d.header.Get("X-Cutover-Event") == event {
				var p previewNotice
				json.Unmarshal(d.body, &p)
				got = append(got, p)
			}
		}
		return len(got) >= n
	})
	return got[n-1]
}
