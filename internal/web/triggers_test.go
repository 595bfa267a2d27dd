package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func TestExecutionPageShowsItsTrigger(t *testing.T) {
	f := newFixture(t)
	e := store.Execution{ID: "hello-e4", App: "hello", Status: store.ExecutionSucceeded, Trigger: "webhook", Branch: "feature/greeting",
		Commit: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b", Stages: []store.Stage{{Name: "Source", Status: store.StageSucceeded}},
		TriggeredBy: &store.TriggerInfo{Kind: store.TriggerKindPullRequest, Ref: "refs/pull/42/head", Commit: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
			FilesUnknown: true, PullRequest: &store.PullRequest{Number: 42, Action: "open", Branch: "feature/greeting", Base: "main",
				Title: "<b>Add</b> a greeting", URL: "javascript:alert(1)"}}}
	h := New(Options{Store: f.store, Deployer: f.deployer, Pipeline: onePipeline{e}})
	t.Cleanup(h.CloseStreams)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "reader", "read"))

	resp, body := get(t, c, f.srv.URL, "/pipelines/hello-e4")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /pipelines/hello-e4: %s", resp.Status)
	}
	for _, want := range []string{
		"Triggered by pull_request <code>refs/pull/42/head</code>",
		"open, feature/greeting into main: &lt;b&gt;Add&lt;/b&gt; a greeting",
		"changed files unknown",
		`<a href="#ZgotmplZ">#42</a>`, // a forge's URL that is not http(s) is not linked
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the execution page lacks %q", want)
		}
	}
	if _, list := get(t, c, f.srv.URL, "/pipelines"); !strings.Contains(list, "pull_request refs/pull/42/head") {
		t.Errorf("the executions page does not say what triggered hello-e4")
	}
}
