package web

import (
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// TestOverviewListsPreviewApps: the overview has a Preview apps section
// with each preview's app, parent, pull request, URL and status, and
// none without previews.
func TestOverviewListsPreviewApps(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "rita", store.RoleRead))

	if _, body := get(t, c, f.srv.URL, "/"); strings.Contains(body, "Preview apps") {
		t.Errorf("the overview shows a preview section without previews:\n%s", body)
	}
	pv := store.Preview{App: "hello-pr-42", Parent: "hello", SourceKey: "pr:42", PullRequest: 42, Branch: "feature/<login>",
		Host: "pr-42.hello.example.com", URL: "http://pr-42.hello.example.com:8080", Status: store.PreviewDeployed}
	if _, _, err := f.store.PutPreview(t.Context(), pv, 5); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, c, f.srv.URL, "/")
	for _, want := range []string{
		"<h2>Preview apps</h2>", `<tr data-preview="hello-pr-42">`, `<a href="/apps/hello-pr-42">hello-pr-42</a>`,
		"pull request #42 (feature/&lt;login&gt;)", `<a href="http://pr-42.hello.example.com:8080" rel="noopener noreferrer">`,
		`status-deployed`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q:\n%s", want, body)
		}
	}

	// The parent's page links its previews; the preview's page says
	// whose preview it is.
	if err := f.store.PutApp(t.Context(), store.App{Name: "hello-pr-42"}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, c, f.srv.URL, "/apps/hello"); !strings.Contains(body, `preview apps: <a href="/apps/hello-pr-42">hello-pr-42</a> (#42, deployed)`) {
		t.Errorf("the parent's page does not list its preview:\n%s", body)
	}
	_, body = get(t, c, f.srv.URL, "/apps/hello-pr-42")
	if !strings.Contains(body, `preview app of <a href="/apps/hello">hello</a> for pull request #42 (feature/&lt;login&gt;)`) ||
		!strings.Contains(body, `<a href="http://pr-42.hello.example.com:8080" rel="noopener noreferrer">`) {
		t.Errorf("the preview's page does not say whose preview it is:\n%s", body)
	}
}
