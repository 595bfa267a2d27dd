package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTriggerFilters: with trigger filters set by `cutover pipeline
// settings` (pushes to main and release/** but not release/old-*, not
// when only docs/ changed; tags v*), through the built-in git remote
// and webhooks signed as GitHub, GitLab and Gitea sign them: a docs-only
// push starts no execution and a trigger.skipped event says why, a v*
// tag deploys, another tag does not, a push to release/1.0 deploys and
// one to release/old-1 does not; no request fails meanwhile.
func TestTriggerFilters(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("Debian's python3 is needed; scripts/test.sh installs it")
	}
	a := newPushedApp(t, "trig", "pyapp")
	a.up(t, "pyapp version 1\n")
	secret := a.secret(t)
	remote := fmt.Sprintf("http://push:%s@127.0.0.1:%d/git/%s.git", url.PathEscape(secret), a.api, a.name)
	a.mustSucceed(t, a.push(t, secret)) // main exists on the remote: later pushes have changed files

	out, code := run(t, "pipeline", "settings", a.name, "--data", a.data, "--push-branch", "main", "--push-branch", "release/**",
		"--push-branch-exclude", "release/old-*", "--push-path-exclude", "docs/**", "--tag", "v*")
	if code != 0 || !strings.Contains(out, "push to branches main, release/** but not release/old-* changing files other than docs/**") ||
		!strings.Contains(out, "push of tags v*") {
		t.Fatalf("pipeline settings: exit %d\n%s", code, out)
	}
	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)

	// A docs-only push to main: no execution, and the reason.
	os.MkdirAll(filepath.Join(a.repo, "docs"), 0o755)
	os.WriteFile(filepath.Join(a.repo, "docs", "notes.md"), []byte("# Notes\n"), 0o644)
	a.git(t, "add", "docs")
	a.commit(t, "docs only")
	docs := a.git(t, "rev-parse", "HEAD")
	a.git(t, "push", "-q", remote, "main")
	skip := a.waitSkipped(t, 1)
	if skip.Kind != "push" || skip.Ref != "refs/heads/main" || skip.Commit != docs || skip.ChangedFiles != 1 || skip.Source != "git" ||
		!strings.Contains(skip.Reason, "none of its 1 changed files matches the file_paths filter") {
		t.Fatalf("trigger.skipped = %+v", skip)
	}
	if e := a.execution(t, docs); e.ID != "" {
		t.Fatalf("the docs-only push started execution %+v", e)
	}

	// A tag v2.0.0 deploys; a tag nightly does not.
	a.replace(t, "server.py", `VERSION = "1"`, `VERSION = "2"`)
	a.commit(t, "version 2")
	v2 := a.git(t, "rev-parse", "HEAD")
	a.git(t, "tag", "-a", "-m", "release 2.0.0", "v2.0.0")
	a.git(t, "tag", "nightly")
	a.git(t, "push", "-q", remote, "refs/tags/v2.0.0", "refs/tags/nightly")
	e := a.waitExecution(t, v2)
	a.mustSucceed(t, e)
	a.waitBody(t, "pyapp version 2\n", 10*time.Second)
	if show, _ := run(t, "pipeline", "show", e.ID, "--data", a.data); !strings.Contains(show, "Trigger:     push: tag refs/tags/v2.0.0, changed files unknown") {
		t.Errorf("pipeline show does not say the tag triggered it:\n%s", show)
	}
	if skip := a.waitSkipped(t, 2); skip.Ref != "refs/tags/nightly" || !strings.Contains(skip.Reason, "no push filter's tags match it") {
		t.Errorf("trigger.skipped = %+v", skip)
	}

	// Webhooks, from the app's source repository (the working copy):
	// GitLab's push to release/old-1 is excluded, GitHub's docs-only push
	// to main starts nothing, Gitea's push to release/1.0 deploys.
	a.git(t, "checkout", "-q", "-b", "release/1.0")
	a.replace(t, "server.py", `VERSION = "2"`, `VERSION = "3"`)
	a.commit(t, "version 3")
	v3 := a.git(t, "rev-parse", "HEAD")
	hook := func(forge, branch string, files ...string) (int, string) {
		return a.postHook(t, secret, pushEvent(forge, branch, v2, v3, files))
	}
	if code, msg := hook("gitlab", "release/old-1", "server.py"); code != http.StatusAccepted || !strings.Contains(msg, "push to branch release/old-1: no push filter's branches match it") {
		t.Errorf("gitlab push to release/old-1: %d %s", code, msg)
	}
	if code, msg := hook("github", "main", "docs/notes.md"); code != http.StatusAccepted || !strings.Contains(msg, "none of its 1 changed files") {
		t.Errorf("github docs-only push: %d %s", code, msg)
	}
	if code, msg := hook("gitea", "release/1.0", "server.py", "docs/notes.md"); code != http.StatusCreated {
		t.Fatalf("gitea push to release/1.0: %d %s", code, msg)
	}
	e = a.waitExecution(t, v3)
	a.mustSucceed(t, e)
	a.waitBody(t, "pyapp version 3\n", 10*time.Second)
	l.finish(t)
	if skipped := a.skipped(t); len(skipped) != 4 || skipped[2].Source != "webhook:gitlab" || skipped[3].Source != "webhook:github" {
		t.Errorf("trigger.skipped events: %+v", skipped)
	}
	if list, _ := run(t, "pipeline", "list", a.name, "--data", a.data); !strings.Contains(list, "webhook release/1.0") || !strings.Contains(list, "push tag v2.0.0") {
		t.Errorf("pipeline list does not say what triggered the executions:\n%s", list)
	}
}

// pushEvent is a push of after onto branch as forge sends it, with one
// commit changing files.
func pushEvent(forge, branch, before, after string, files []string) forgeEvent {
	commit := map[string]any{"id": after, "message": "version 3\n", "timestamp": time.Now().Format(time.RFC3339),
		"author": map[string]string{"name": "e2e", "email": "e2e@example.com"}, "added": []string{}, "removed": []string{}, "modified": files}
	body := map[string]any{"ref": "refs/heads/" + branch, "before": before, "after": after, "commits": []any{commit},
		"repository": map[string]any{"name": "trig", "full_name": "e2e/trig"}}
	ev := forgeEvent{}
	switch forge {
	case "github":
		body["head_commit"], body["created"], body["deleted"], body["forced"] = commit, false, false, false
		ev.event = "push"
	case "gitlab":
		body["object_kind"], body["checkout_sha"], body["total_commits_count"] = "push", after, 1
		ev.event = "Push Hook"
	case "gitea":
		body["head_commit"], body["total_commits"] = commit, 1
		ev.event = "push"
	}
	ev.forge, ev.body = forge, mustJSON(body)
	return ev
}

type forgeEvent struct {
	forge, event string
	body         []byte
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// postHook sends ev to the app's webhook endpoint, signed as its forge
// signs: GitHub an HMAC-SHA256 as sha256=<hex> in X-Hub-Signature-256,
// Gitea the bare hex in X-Gitea-Signature, GitLab the secret itself in
// X-Gitlab-Token. It returns the status and the answer's message.
func (a *pushedApp) postHook(t *testing.T, secret string, ev forgeEvent) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/hooks/%s", a.api, a.name), bytes.NewReader(ev.body))
	req.Header.Set("Content-Type", "application/json")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(ev.body)
	sig := hex.EncodeToString(mac.Sum(nil))
	id := rand.Text()
	switch ev.forge {
	case "github":
		req.Header.Set("X-GitHub-Event", ev.event)
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Hub-Signature-256", "sha256="+sig)
	case "gitlab":
		req.Header.Set("X-Gitlab-Event", ev.event)
		req.Header.Set("X-Gitlab-Event-UUID", id)
		req.Header.Set("X-Gitlab-Token", secret)
	case "gitea":
		req.Header.Set("X-Gitea-Event", ev.event)
		req.Header.Set("X-Gitea-Delivery", id)
		req.Header.Set("X-Gitea-Signature", sig)
	}
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatalf("posting a %s %s event: %v", ev.forge, ev.event, err)
	}
	defer resp.Body.Close()
	var r struct{ Message string }
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r.Message
}

// skippedTrigger is the data of a trigger.skipped event.
type skippedTrigger struct {
	Kind         string `json:"kind"`
	Ref          string `json:"ref"`
	Commit       string `json:"commit"`
	ChangedFiles int    `json:"changed_files"`
	Source       string `json:"source"`
	Reason       string `json:"reason"`
}

// skipped returns the app's trigger.skipped events, oldest first, from
// the API's event log.
func (a *pushedApp) skipped(t *testing.T) []skippedTrigger {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v1/events?app=%s", a.api, a.name), nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&events); err != nil {
		t.Fatal(err)
	}
	var out []skippedTrigger
	for _, e := range events {
		if e.Type == "trigger.skipped" {
			var s skippedTrigger
			json.Unmarshal(e.Data, &s)
			out = append(out, s)
		}
	}
	return out
}

// waitSkipped waits for the n-th trigger.skipped event and returns it.
func (a *pushedApp) waitSkipped(t *testing.T, n int) skippedTrigger {
	t.Helper()
	var all []skippedTrigger
	waitFor(t, fmt.Sprintf("trigger.skipped event %d", n), 10*time.Second, func() bool {
		all = a.skipped(t)
		return len(all) >= n
	})
	return all[n-1]
}

// waitExecution waits for an execution of commit to end; on a timeout
// it fails the test with the execution's log.
func (a *pushedApp) waitExecution(t *testing.T, commit string) execution {
	t.Helper()
	deadline := time.Now().Add(pushTimeout)
	for {
		e := a.execution(t, commit)
		if e.Status != "" && e.Status != "InProgress" && e.Status != "Stopping" {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for the execution of %s to end: %s %q\n%s", pushTimeout, commit, e.ID, e.Status, a.log(t, e.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
