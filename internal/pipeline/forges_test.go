package pipeline

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	payloadA   = "5f2c6a0e8d9b4c1a3e7f6b2d0c9a8e7f6d5c4b3a" // before
	payloadB   = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b" // after, the head
	payloadTag = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00" // an annotated tag object
)

func readPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func forgeNamed(name string) *forge {
	for i := range forges {
		if forges[i].name == name {
			return &forges[i]
		}
	}
	return nil
}

// TestForgePayloads parses payloads shaped as each forge sends them
// (testdata/webhooks) into Triggers.
func TestForgePayloads(t *testing.T) {
	pr := func(number int, action, base string, merged bool) *PullRequest {
		return &PullRequest{Number: number, Action: action, Branch: "feature/greeting", Base: base, Merged: merged}
	}
	tests := []struct {
		forge, event, file string
		want               Trigger // PR compared without Title and URL
		wantFiles          []string
		ignored            bool
	}{
		{"github", "push", "github-push-docs.json", Trigger{Kind: KindPush, Ref: "refs/heads/main", Commit: payloadB, FilesKnown: true}, []string{"docs/img/flow.png", "docs/api.md"}, false},
		// An annotated tag: after is the tag object, head_commit its commit.
		{"github", "push", "github-push-tag.json", Trigger{Kind: KindTag, Ref: "refs/tags/v1.2.0", Commit: payloadB}, nil, false},
		{"github", "push", "github-push-delete.json", Trigger{Kind: KindPush, Ref: "refs/heads/feature/x"}, nil, false},
		{"github", "pull_request", "github-pull_request-opened.json", Trigger{Kind: KindPullRequest, Ref: "refs/pull/42/head", Commit: payloadB, PR: pr(42, PROpen, "main", false)}, nil, false},
		{"github", "pull_request", "github-pull_request-synchronize.json", Trigger{Kind: KindPullRequest, Ref: "refs/pull/42/head", Commit: payloadB, PR: pr(42, PRUpdated, "main", false)}, nil, false},
		{"github", "pull_request", "github-pull_request-closed.json", Trigger{Kind: KindPullRequest, Ref: "refs/pull/42/head", Commit: payloadB, PR: pr(42, PRClosed, "main", true)}, nil, false},
		{"github", "pull_request", "github-pull_request-labeled.json", Trigger{}, nil, true},
		{"github", "ping", "github-push-docs.json", Trigger{}, nil, true},
		{"gitlab", "Push Hook", "gitlab-push-src.json", Trigger{Kind: KindPush, Ref: "refs/heads/main", Commit: payloadB, FilesKnown: true}, []string{"docs/index.md", "src/status.js", "src/app.js"}, false},
		// 25 commits pushed, 1 listed: the files are unknown.
		{"gitlab", "Push Hook", "gitlab-push-truncated.json", Trigger{Kind: KindPush, Ref: "refs/heads/main", Commit: payloadB}, nil, false},
		{"gitlab", "Tag Push Hook", "gitlab-tag_push.json", Trigger{Kind: KindTag, Ref: "refs/tags/v1.2.0", Commit: payloadB}, nil, false},
		{"gitlab", "Merge Request Hook", "gitlab-merge_request-open.json", Trigger{Kind: KindPullRequest, Ref: "refs/merge-requests/7/head", Commit: payloadB, PR: pr(7, PROpen, "main", false)}, nil, false},
		{"gitlab", "Merge Request Hook", "gitlab-merge_request-update.json", Trigger{Kind: KindPullRequest, Ref: "refs/merge-requests/7/head", Commit: payloadB, PR: pr(7, PRUpdated, "main", false)}, nil, false},
		// An update without oldrev changed no commit (a title, a label).
		{"gitlab", "Merge Request Hook", "gitlab-merge_request-update-title.json", Trigger{}, nil, true},
		{"gitlab", "Merge Request Hook", "gitlab-merge_request-merge.json", Trigger{Kind: KindPullRequest, Ref: "refs/merge-requests/7/head", Commit: payloadB, PR: pr(7, PRClosed, "main", true)}, nil, false},
		{"gitlab", "Issue Hook", "gitlab-push-src.json", Trigger{}, nil, true},
		{"gitea", "push", "gitea-push-src.json", Trigger{Kind: KindPush, Ref: "refs/heads/main", Commit: payloadB, FilesKnown: true}, []string{"src/app.js", "README.md"}, false},
		// A new branch: which commits are new is the forge's guess.
		{"gitea", "push", "gitea-push-newbranch.json", Trigger{Kind: KindPush, Ref: "refs/heads/feature/new", Commit: payloadB}, nil, false},
		{"gitea", "push", "gitea-push-tag.json", Trigger{Kind: KindTag, Ref: "refs/tags/v2.0.0", Commit: payloadB}, nil, false},
		{"gitea", "pull_request", "gitea-pull_request-opened.json", Trigger{Kind: KindPullRequest, Ref: "refs/pull/3/head", Commit: payloadB, PR: pr(3, PROpen, "main", false)}, nil, false},
		{"gitea", "pull_request", "gitea-pull_request-synchronized.json", Trigger{Kind: KindPullRequest, Ref: "refs/pull/3/head", Commit: payloadB, PR: pr(3, PRUpdated, "main", false)}, nil, false},
		{"gitea", "pull_request", "gitea-pull_request-closed.json", Trigger{Kind: KindPullRequest, Ref: "refs/pull/3/head", Commit: payloadB, PR: pr(3, PRClosed, "main", false)}, nil, false},
		{"gitea", "pull_request", "gitea-pull_request-edited.json", Trigger{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.forge+"/"+tt.file+"/"+tt.event, func(t *testing.T) {
			got, err := forgeNamed(tt.forge).parse(tt.event, readPayload(t, tt.file))
			if tt.ignored {
				var ign ignoredEvent
				if !errors.As(err, &ign) || !strings.Contains(ign.msg, "ignored") {
					t.Fatalf("parse = %+v, %v; want the event ignored", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.PR != nil {
				if got.PR.Title != "Add a greeting" || !strings.HasPrefix(got.PR.URL, "https://") {
					t.Errorf("PR title %q, URL %q", got.PR.Title, got.PR.URL)
				}
				got.PR.Title, got.PR.URL = "", ""
				if tt.want.PR == nil || *got.PR != *tt.want.PR {
					t.Errorf("PR = %+v, want %+v", got.PR, tt.want.PR)
				}
			}
			if got.Kind != tt.want.Kind || got.Ref != tt.want.Ref || got.Commit != tt.want.Commit || got.FilesKnown != tt.want.FilesKnown ||
				(got.PR == nil) != (tt.want.PR == nil) || !slices.Equal(got.ChangedFiles, tt.wantFiles) {
				t.Errorf("parse = %+v\nwant %+v with files %q", got, tt.want, tt.wantFiles)
			}
		})
	}
}

// TestForgePayloadsRefuseBadInput: refs and commits from a payload reach
// git, so anything git could read as an option, a refspec or a revision
// range is refused before.
func TestForgePayloadsRefuseBadInput(t *testing.T) {
	tests := []struct{ forge, event, body string }{
		{"github", "push", `{"ref":"refs/heads/main","before":"` + payloadA + `","after":"HEAD~1"}`},
		{"github", "push", `{"ref":"refs/heads/a:refs/heads/b","after":"` + payloadB + `"}`},
		{"github", "push", `{"ref":"refs/heads/--upload-pack=touch /tmp/x","after":"` + payloadB + `"}`},
		{"github", "push", `{"ref":"refs/tags/v1..v2","after":"` + payloadB + `"}`},
		{"gitea", "push", `not json`},
		{"github", "pull_request", `{"action":"opened","number":1,"pull_request":{"head":{"ref":"x","sha":"--orphan"},"base":{"ref":"main"}}}`},
		{"github", "pull_request", `{"action":"opened","number":1,"pull_request":{"head":{"ref":"-x","sha":"` + payloadB + `"},"base":{"ref":"main"}}}`},
		{"github", "pull_request", `{"action":"opened","pull_request":{"head":{"ref":"x","sha":"` + payloadB + `"},"base":{"ref":"main"}}}`},
		{"gitlab", "Merge Request Hook", `{"object_attributes":{"iid":3,"action":"open","source_branch":"x","target_branch":"main","last_commit":{"id":"abc"}}}`},
	}
	for _, tt := range tests {
		if got, err := forgeNamed(tt.forge).parse(tt.event, []byte(tt.body)); err == nil || errors.As(err, new(ignoredEvent)) {
			t.Errorf("%s %s %s: parse = %+v, %v; want an error", tt.forge, tt.event, tt.body, got, err)
		}
	}
}

// TestForgeSignatures checks each forge's request as it signs it: GitHub
// sha256=<hex HMAC> in X-Hub-Signature-256, Gitea the bare hex HMAC in
// X-Gitea-Signature, GitLab the secret itself in X-Gitlab-Token.
func TestForgeSignatures(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	body := readPayload(t, "github-push-docs.json")
	// GitHub's documented example: this secret and body give this signature.
	const githubExample = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := sign(secret, []byte("Hello, World!")); got != githubExample {
		t.Fatalf("HMAC of GitHub's example = %s, want %s", got, githubExample)
	}
	tests := []struct {
		forge  string
		header http.Header
		want   bool
	}{
		{"github", http.Header{"X-Hub-Signature-256": {"sha256=" + sign(secret, body)}}, true},
		{"github", http.Header{"X-Hub-Signature-256": {sign(secret, body)}}, false},                          // no sha256= prefix
		{"github", http.Header{"X-Hub-Signature": {"sha1=0123456789abcdef0123456789abcdef01234567"}}, false}, // the legacy SHA-1 header only
		{"github", http.Header{"X-Hub-Signature-256": {"sha256=" + sign("another secret", body)}}, false},
		{"gitea", http.Header{"X-Gitea-Signature": {sign(secret, body)}}, true},
		{"gitea", http.Header{"X-Gitea-Signature": {"sha256=" + sign(secret, body)}}, false},
		{"gitea", http.Header{"X-Gitea-Signature": {sign(secret, append(body, ' '))}}, false},
		{"gitlab", http.Header{"X-Gitlab-Token": {secret}}, true},
		{"gitlab", http.Header{"X-Gitlab-Token": {secret + " "}}, false},
		{"gitlab", http.Header{}, false},
	}
	for _, tt := range tests {
		if got := forgeNamed(tt.forge).verify(tt.header, body, secret); got != tt.want {
			t.Errorf("%s verify(%v) = %v, want %v", tt.forge, tt.header, got, tt.want)
		}
	}
}
