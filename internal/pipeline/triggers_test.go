package pipeline

import (
	"maps"
	"strings"
	"testing"
)

func TestTriggerFilters(t *testing.T) {
	const sha = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
	push := func(branch string, files ...string) Trigger {
		return Trigger{Kind: KindPush, Ref: "refs/heads/" + branch, Commit: sha, ChangedFiles: files, FilesKnown: files != nil}
	}
	tag := func(name string) Trigger { return Trigger{Kind: KindTag, Ref: "refs/tags/" + name, Commit: sha} }
	pr := func(action, base string) Trigger {
		return Trigger{Kind: KindPullRequest, Ref: "refs/pull/7/head", Commit: sha, PR: &PullRequest{Number: 7, Action: action, Branch: "feature/x", Base: base}}
	}
	srcOnly := Triggers{Push: []PushFilter{{
		Branches:  &Patterns{Includes: []string{"main", "release/**"}, Excludes: []string{"release/old-*"}},
		FilePaths: &Patterns{Excludes: []string{"docs/**", "{README.md,**/README.md}"}},
	}}}
	tags := Triggers{Push: []PushFilter{{Tags: &Patterns{Includes: []string{"v*"}, Excludes: []string{"v*-rc*"}}}}}
	prs := Triggers{PullRequest: []PullRequestFilter{{Branches: &Patterns{Includes: []string{"main"}}}}}
	tests := []struct {
		name     string
		triggers Triggers
		trigger  Trigger
		want     bool
		reason   string
	}{
		{"no filters: the pipeline's branch", Triggers{}, push("main", "a.go"), true, ""},
		{"no filters: another branch", Triggers{}, push("feature"), false, "follows branch main only"},
		{"no filters: a tag", Triggers{}, tag("v1"), false, "no trigger filters"},
		{"no filters: a pull request", Triggers{}, pr(PROpen, "main"), false, "no trigger filters"},
		{"a deletion", Triggers{}, Trigger{Kind: KindPush, Ref: "refs/heads/main"}, false, "deleted"},
		{"included branch, source changed", srcOnly, push("main", "docs/a.md", "src/app.js"), true, ""},
		{"included branch, docs only", srcOnly, push("main", "docs/a.md", "docs/b/c.md", "README.md"), false, "none of its 3 changed files"},
		{"included branch, no file changed", srcOnly, push("main", []string{}...), false, "none of its 0 changed files"},
		{"included branch, files unknown (new branch)", srcOnly, push("release/2.0"), true, ""},
		{"release/** includes nested", srcOnly, push("release/2.0/hotfix", "src/a.go"), true, ""},
		{"excluded branch", srcOnly, push("release/old-1", "src/a.go"), false, "no push filter's branches"},
		{"not included branch", srcOnly, push("feature/x", "src/a.go"), false, "no push filter's branches"},
		{"branch filters do not take tags", srcOnly, tag("v1"), false, "no push filter's tags"},
		{"tag included", tags, tag("v1.2.0"), true, ""},
		{"tag excluded", tags, tag("v1.3.0-rc1"), false, "no push filter's tags"},
		{"tag not included", tags, tag("release-1"), false, "no push filter's tags"},
		{"tag filters do not take branches", tags, push("main", "a.go"), false, "no push filter's branches"},
		{"tag filters do not take pull requests", tags, pr(PROpen, "main"), false, "no pull_request trigger filter"},
		{"pull request opened into main", prs, pr(PROpen, "main"), true, ""},
		{"pull request updated into main", prs, pr(PRUpdated, "main"), true, ""},
		{"pull request closed: not a default event", prs, pr(PRClosed, "main"), false, "no pull_request filter matches"},
		{"pull request into another branch", prs, pr(PROpen, "develop"), false, "no pull_request filter matches"},
		{"closed when asked for", Triggers{PullRequest: []PullRequestFilter{{Events: []string{PRClosed}}}}, pr(PRClosed, "any"), true, ""},
		{"any filter may match", Triggers{Push: append(srcOnly.Push, tags.Push...)}, tag("v2"), true, ""},
		{"excludes only", Triggers{Push: []PushFilter{{Branches: &Patterns{Excludes: []string{"wip/*"}}}}}, push("anything"), true, ""},
		{"excludes only, excluded", Triggers{Push: []PushFilter{{Branches: &Patterns{Excludes: []string{"wip/*"}}}}}, push("wip/x"), false, "no push filter's branches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.triggers.Check(); err != nil {
				t.Fatalf("Check: %v", err)
			}
			got, reason := tt.triggers.Match(tt.trigger, "main")
			if got != tt.want || !strings.Contains(reason, tt.reason) || (got && reason != "") {
				t.Fatalf("Match = %v, %q; want %v with %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestTriggerFiltersCheck(t *testing.T) {
	many := make([]string, 9)
	for i := range many {
		many[i] = "b"
	}
	tests := []struct {
		name     string
		triggers Triggers
		want     string
	}{
		{"no kind", Triggers{Push: []PushFilter{{}}}, "triggers.push[0]: name branches or tags"},
		{"both kinds", Triggers{Push: []PushFilter{{Branches: &Patterns{Includes: []string{"main"}}, Tags: &Patterns{Includes: []string{"v*"}}}}}, "not both"},
		{"files with tags", Triggers{Push: []PushFilter{{Tags: &Patterns{Includes: []string{"v*"}}, FilePaths: &Patterns{Includes: []string{"src/**"}}}}}, "file_paths filter branch pushes only"},
		{"empty patterns", Triggers{Push: []PushFilter{{Branches: &Patterns{}}}}, "triggers.push[0].branches: give includes or excludes"},
		{"bad glob", Triggers{Push: []PushFilter{{Branches: &Patterns{Includes: []string{"release/[0-9"}}}}}, "triggers.push[0].branches.includes: pattern \"release/[0-9\": [ without ]"},
		{"too many patterns", Triggers{Push: []PushFilter{{Branches: &Patterns{Excludes: many}}}}, "branches.excludes: at most 8 patterns"},
		{"long pattern", Triggers{Push: []PushFilter{{Branches: &Patterns{Includes: []string{strings.Repeat("a", 256)}}}}}, "longer than 255"},
		{"too many filters", Triggers{PullRequest: make([]PullRequestFilter, 4)}, "at most 3"},
		{"bad event", Triggers{PullRequest: []PullRequestFilter{{Events: []string{"OPEN", "merged"}}}}, `triggers.pull_request[0].events: "OPEN" is not an event: use open, updated or closed`},
	}
	for _, tt := range tests {
		if err := tt.triggers.Check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestWebhookEnv(t *testing.T) {
	base := map[string]string{"WEB_BIN": "/bin/web"}
	tests := []struct {
		trigger *Trigger
		want    map[string]string
	}{
		{nil, map[string]string{"WEB_BIN": "/bin/web"}},
		{&Trigger{Kind: KindPush, Ref: "refs/heads/release/1.0"}, map[string]string{"WEB_BIN": "/bin/web",
			"CODEBUILD_WEBHOOK_TRIGGER": "branch/release/1.0", "CODEBUILD_WEBHOOK_EVENT": "PUSH", "CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/release/1.0"}},
		{&Trigger{Kind: KindTag, Ref: "refs/tags/v1.2.0"}, map[string]string{"WEB_BIN": "/bin/web",
			"CODEBUILD_WEBHOOK_TRIGGER": "tag/v1.2.0", "CODEBUILD_WEBHOOK_EVENT": "PUSH", "CODEBUILD_WEBHOOK_HEAD_REF": "refs/tags/v1.2.0"}},
		{&Trigger{Kind: KindPullRequest, Ref: "refs/pull/42/head", PR: &PullRequest{Number: 42, Action: PRClosed, Merged: true, Branch: "feature/x", Base: "main"}},
			map[string]string{"WEB_BIN": "/bin/web", "CODEBUILD_WEBHOOK_TRIGGER": "pr/42", "CODEBUILD_WEBHOOK_EVENT": "PULL_REQUEST_MERGED",
				"CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/feature/x", "CODEBUILD_WEBHOOK_BASE_REF": "refs/heads/main"}},
		{&Trigger{Kind: KindPullRequest, Ref: "refs/merge-requests/7/head", PR: &PullRequest{Number: 7, Action: PROpen, Branch: "a", Base: "b"}},
			map[string]string{"WEB_BIN": "/bin/web", "CODEBUILD_WEBHOOK_TRIGGER": "pr/7", "CODEBUILD_WEBHOOK_EVENT": "PULL_REQUEST_CREATED",
				"CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/a", "CODEBUILD_WEBHOOK_BASE_REF": "refs/heads/b"}},
	}
	for _, tt := range tests {
		if got := withWebhookEnv(base, tt.trigger); !maps.Equal(got, tt.want) {
			t.Errorf("withWebhookEnv(%+v) = %v, want %v", tt.trigger, got, tt.want)
		}
	}
	if len(base) != 1 {
		t.Errorf("withWebhookEnv changed the daemon's build environment: %v", base)
	}
}
