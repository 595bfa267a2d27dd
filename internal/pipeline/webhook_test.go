package pipeline

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestWebhooks(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	ctx := context.Background()
	secret, err := h.pipe.Secret(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	head := h.commit(repo, "version 2", map[string]string{"version.txt": "2\n", "GATED": "x"})
	push := func(ref string) []byte {
		b, _ := json.Marshal(map[string]string{"ref": ref, "after": head})
		return b
	}
	main := push("refs/heads/main")

	tests := []struct {
		name     string
		app      string
		body     []byte
		headers  map[string]string
		wantCode int
		wantMsg  string
	}{
		{"github without signature", "web", main, map[string]string{"X-GitHub-Event": "push"}, 401, "signature"},
		{"github bad signature", "web", main, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign("wrong", main)}, 401, "signature"},
		{"github signature of another body", "web", main, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, push("refs/heads/x"))}, 401, "signature"},
		{"gitlab wrong token", "web", main, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"}, 401, "signature"},
		{"gitea bad signature", "web", main, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign("wrong", main)}, 401, "signature"},
		{"unknown app", "nope", main, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, main)}, 401, "signature"},
		{"no forge", "web", main, nil, 400, "not a GitHub"},
		{"github ping", "web", main, map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(secret, main)}, 202, "ignored"},
		{"other branch", "web", push("refs/heads/feature"), map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, push("refs/heads/feature"))}, 202, "follows branch main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, resp := postHook(t, h, tt.app, tt.body, tt.headers)
			if code != tt.wantCode || !strings.Contains(resp.Message, tt.wantMsg) || resp.Execution != "" {
				t.Fatalf("answer %d %+v, want %d with %q and no execution", code, resp, tt.wantCode, tt.wantMsg)
			}
		})
	}
	if es, _ := h.pipe.List(ctx, "web", 0); len(es) != 0 {
		t.Fatalf("refused or ignored webhooks started executions: %+v", es)
	}

	// Good signatures of each forge start executions of the commit, from
	// the app's source repository. The first holds Build (its build is
	// gated), the second waits and is superseded by the third.
	accepted := []map[string]string{
		{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, main)},
		{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret},
		{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(secret, main)},
	}
	var ids []string
	for i, headers := range accepted {
		code, resp := postHook(t, h, "web", main, headers)
		if code != http.StatusCreated || resp.Execution == "" {
			t.Fatalf("accepted webhook %d: %d %+v", i, code, resp)
		}
		ids = append(ids, resp.Execution)
		if i == 0 {
			h.waitStage(resp.Execution, StageBuild, store.StageInProgress)
		} else {
			h.waitStage(resp.Execution, StageSource, store.StageSucceeded)
		}
	}
	if e := h.wait(ids[1]); e.Status != store.ExecutionSuperseded {
		t.Fatalf("second webhook execution = %s, want Superseded", e.Status)
	}
	e, _ := h.store.GetExecution(ctx, ids[0])
	if e.Trigger != TriggerWebhook || e.Commit != head || e.Repo != repo {
		t.Fatalf("webhook execution = %+v, want commit %s from %s", e, head, repo)
	}

	// Stop kills the held build.
	if err := h.pipe.Stop(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(ids[0]); e.Status != store.ExecutionStopped || e.Stage(StageBuild).Status != store.StageStopped {
		t.Fatalf("stopped execution = %s, Build %s", e.Status, e.Stage(StageBuild).Status)
	}
	h.waitStage(ids[2], StageBuild, store.StageInProgress)
	if err := h.pipe.Stop(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(ids[2]); e.Status != store.ExecutionStopped {
		t.Fatalf("third webhook execution = %s, want Stopped", e.Status)
	}
}

func postHook(t *testing.T, h *harness, app string, body []byte, headers map[string]string) (int, WebhookResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.host+"/hooks/"+app, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r WebhookResponse
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}

func TestUnauthenticatedPushRefused(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	tests := []struct{ name, url, wantOut string }{
		{"no credentials", "http://" + h.host + "/git/web.git", "could not read Username"},
		{"wrong secret", "http://git:wrong-secret@" + h.host + "/git/web.git", "Authentication failed"},
		{"unknown app", "http://git:x@" + h.host + "/git/other.git", "Authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("git", "push", tt.url, "HEAD:main")
			cmd.Dir = repo
			cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.wantOut) {
				t.Fatalf("push: %v, want a refusal with %q:\n%s", err, tt.wantOut, out)
			}
		})
	}
	resp, err := http.Get("http://" + h.host + "/git/web.git/info/refs?service=git-receive-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated receive-pack discovery: %s, want 401", resp.Status)
	}
	if es, _ := h.pipe.List(context.Background(), "web", 0); len(es) != 0 {
		t.Fatalf("refused pushes started executions: %+v", es)
	}

	// An API token is a push password too; a push to another branch
	// than the app's is stored but starts nothing.
	gitRun(t, repo, "push", "-q", "http://ci:"+testToken+"@"+h.host+"/git/web.git", "HEAD:feature")
	if es, _ := h.pipe.List(context.Background(), "web", 0); len(es) != 0 {
		t.Fatalf("a push to branch feature started executions: %+v", es)
	}
	if out := gitRun(t, repo, "ls-remote", "http://ci:"+testToken+"@"+h.host+"/git/web.git"); !strings.Contains(out, "refs/heads/feature") {
		t.Fatalf("the pushed branch is not in the built-in remote: %q", out)
	}
}

// githubHeaders returns a GitHub push delivery's headers for body, with
// delivery id when it is not "".
func githubHeaders(secret string, body []byte, id string) map[string]string {
	h := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, body)}
	if id != "" {
		h["X-GitHub-Delivery"] = id
	}
	return h
}

func TestWebhookRefusesCommitsThatAreNotIDs(t *testing.T) {
	h := newHarness(t)
	h.newRepo()
	ctx := context.Background()
	secret, err := h.pipe.Secret(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, after := range []string{
		"--orphan=x",
		"--upload-pack=touch /tmp/pwned",
		"-b",
		"HEAD",
		"main",
		"refs/heads/main",
		"FETCH_HEAD",
		"abc1234", // abbreviated: forges send full ids
		"g123456789012345678901234567890123456789",  // 40 characters, not hex
		"0123456789abcdef0123456789abcdef01234567 ", // trailing space
	} {
		t.Run(after, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"ref": "refs/heads/main", "after": after})
			code, resp := postHook(t, h, "web", body, githubHeaders(secret, body, ""))
			if code != http.StatusBadRequest || !strings.Contains(resp.Message, "not a commit id") || resp.Execution != "" {
				t.Fatalf("answer %d %+v, want 400 saying it is not a commit id", code, resp)
			}
		})
	}
	if es, _ := h.pipe.List(ctx, "web", 0); len(es) != 0 {
		t.Fatalf("refused webhooks started executions: %+v", es)
	}
}

func TestWebhookReplayStartsNothing(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	ctx := context.Background()
	secret, err := h.pipe.Secret(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	head := h.commit(repo, "version 2", map[string]string{"version.txt": "2\n", "GATED": "x"})
	body, _ := json.Marshal(map[string]string{"ref": "refs/heads/main", "after": head, "before": "1"})
	code, first := postHook(t, h, "web", body, githubHeaders(secret, body, "d-1"))
	if code != http.StatusCreated || first.Execution == "" {
		t.Fatalf("first delivery: %d %+v", code, first)
	}
	h.waitStage(first.Execution, StageBuild, store.StageInProgress)

	other, _ := json.Marshal(map[string]string{"ref": "refs/heads/main", "after": head, "before": "2"})
	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
	}{
		{"the same delivery", body, githubHeaders(secret, body, "d-1")},
		{"another id", body, githubHeaders(secret, body, "d-2")},
		{"no id", body, githubHeaders(secret, body, "")},
		{"the same id, another body", other, githubHeaders(secret, other, "d-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, resp := postHook(t, h, "web", tt.body, tt.headers)
			if code != http.StatusOK || resp.Execution != first.Execution || !strings.Contains(resp.Message, "already received") {
				t.Fatalf("answer %d %+v, want 200 naming execution %s", code, resp, first.Execution)
			}
		})
	}
	if es, _ := h.pipe.List(ctx, "web", 0); len(es) != 1 {
		t.Fatalf("replayed deliveries started executions: %d in all, want 1", len(es))
	}

	// GitLab sends a retry with the same Idempotency-Key.
	gitlab := map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret, "Idempotency-Key": "k-1"}
	code, resp := postHook(t, h, "web", other, gitlab)
	if code != http.StatusCreated || resp.Execution == "" {
		t.Fatalf("a new GitLab delivery: %d %+v", code, resp)
	}
	code, again := postHook(t, h, "web", other, gitlab)
	if code != http.StatusOK || again.Execution != resp.Execution {
		t.Fatalf("the GitLab retry: %d %+v, want 200 naming %s", code, again, resp.Execution)
	}

	for _, id := range []string{first.Execution, resp.Execution} {
		if err := h.pipe.Stop(ctx, id); err != nil {
			t.Fatal(err)
		}
		h.wait(id)
	}
}
