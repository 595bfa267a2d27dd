package pipeline

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// TestPreviewRefusals: events a preview cannot take are refused with 409
// and a reason, and create nothing: one more pull request over the
// limit, new commits for a preview being destroyed, a preview whose name
// an ordinary app has.
func TestPreviewRefusals(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := New(Options{Store: st, DataDir: t.TempDir()})
	for _, a := range []store.App{{Name: "hello", Spec: []byte(`{"Name": "hello", "Listeners": {"Production": ":8080"}}`)}, {Name: "hello-pr-9"}} {
		if err := st.PutApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SetSettings(ctx, "hello", Settings{Preview: &Preview{Domain: "*.hello.example.com", Limit: 1}}); err != nil {
		t.Fatal(err)
	}
	pv := store.Preview{App: "hello-pr-1", Parent: "hello", SourceKey: "pr:1", PullRequest: 1, Host: "pr-1.hello.example.com", Status: store.PreviewDeployed}
	if _, _, err := st.PutPreview(ctx, pv, 1); err != nil {
		t.Fatal(err)
	}
	pr := func(n int, action string) Trigger {
		return Trigger{Kind: KindPullRequest, Commit: strings.Repeat("a", 40), Source: "webhook:github",
			PR: &PullRequest{Number: n, Action: action, Branch: "feature", Base: "main"}}
	}

	out, handled := p.handlePreview(ctx, "hello", pr(2, PROpen), "")
	if !handled || out.code != http.StatusConflict || !strings.Contains(out.msg, "hello runs 1 preview apps, its limit is 1; hello-pr-2 was not created") {
		t.Errorf("pull request 2 over the limit: %v %+v", handled, out)
	}
	if _, err := st.GetApp(ctx, "hello-pr-2"); err == nil {
		t.Error("the refused preview's app exists")
	}

	out, _ = p.handlePreview(ctx, "hello", pr(9, PROpen), "")
	if out.code != http.StatusConflict || !strings.Contains(out.msg, "an app named hello-pr-9 exists and is no preview app") {
		t.Errorf("a preview named as an ordinary app: %+v", out)
	}

	if _, err := st.SetPreviewStatus(ctx, "hello-pr-1", store.PreviewDestroying, "", ""); err != nil {
		t.Fatal(err)
	}
	out, _ = p.handlePreview(ctx, "hello", pr(1, PRUpdated), "")
	if out.code != http.StatusConflict || !strings.Contains(out.msg, "preview app hello-pr-1 is being destroyed") {
		t.Errorf("new commits for a preview being destroyed: %+v", out)
	}
	if got, _ := st.GetPreview(ctx, "hello-pr-1"); got.Status != store.PreviewDestroying {
		t.Errorf("the preview being destroyed is now %s", got.Status)
	}

	// A push to a branch that no preview pattern names is not a preview's.
	if _, handled := p.handlePreview(ctx, "hello", Trigger{Kind: KindPush, Ref: "refs/heads/feature", Commit: strings.Repeat("b", 40)}, ""); handled {
		t.Error("a push to a branch without preview branches was taken for a preview")
	}
}
