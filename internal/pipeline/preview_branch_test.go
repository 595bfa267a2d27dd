package pipeline

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// TestBranchPreviewThroughTheRemote: with preview branches preview/**, a
// push of preview/login to the built-in remote creates web-preview-login
// and deploys the branch to it, with the preview's env, at its own host
// on the app's production listener, while the app serves everyone else;
// deleting the branch destroys it.
func TestBranchPreviewThroughTheRemote(t *testing.T) {
	h := newHarness(t)
	h.pipe.destroy = h.ctrl.Destroy // the daemon passes server.Destroy, which also removes releases
	repo := h.newRepo()
	ctx := context.Background()
	if e := h.wait(h.push(repo).ID); e.Status != store.ExecutionSucceeded {
		t.Fatalf("first execution %s\n%s", e.Status, h.log(e.ID))
	}
	err := h.pipe.SetSettings(ctx, "web", Settings{Preview: &Preview{Domain: "*.web.example.test",
		Branches: &Patterns{Includes: []string{"preview/**"}}, Env: map[string]string{"GREETING": "from the preview"}}})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := h.pipe.Secret(ctx, "web")
	remote := "http://git:" + secret + "@" + h.host + "/git/web.git"

	gitRun(t, repo, "checkout", "-q", "-b", "preview/login")
	head := h.commit(repo, "preview version", map[string]string{"version.txt": "p1\n"})
	gitRun(t, repo, "push", "-q", remote, "HEAD:refs/heads/preview/login")
	var es []store.Execution
	waitFor(t, 10*time.Second, "an execution of web-preview-login", func() bool {
		es, _ = h.pipe.List(ctx, "web-preview-login", 0)
		return len(es) == 1
	})
	e := h.wait(es[0].ID)
	if e.Status != store.ExecutionSucceeded || e.Commit != head || e.Branch != "preview/login" {
		t.Fatalf("preview execution = %+v\n%s", e, h.log(e.ID))
	}
	// The preview's status follows its execution's end (previewEnded).
	var pv store.Preview
	waitFor(t, 10*time.Second, "the preview recorded deployed", func() bool {
		pv, err = h.store.GetPreview(ctx, "web-preview-login")
		return err == nil && pv.Status == store.PreviewDeployed
	})
	if pv.Host != "preview-login.web.example.test" || pv.SourceKey != "branch:preview/login" {
		t.Fatalf("preview = %+v", pv)
	}
	if body := hostGet(t, h.prodAddr, "preview-login.web.example.test"); body != "version p1 from the preview" {
		t.Errorf("the preview's host answers %q", body)
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 1 ") {
		t.Errorf("the app answers %q, %v; want version 1", body, err)
	}
	if es, _ := h.pipe.List(ctx, "web", 0); len(es) != 1 {
		t.Errorf("the preview branch's push ran the app's own pipeline too: %d executions", len(es))
	}

	// Deleting the branch destroys the preview.
	gitRun(t, repo, "push", "-q", remote, ":refs/heads/preview/login")
	waitFor(t, 30*time.Second, "web-preview-login destroyed", func() bool {
		_, errPreview := h.store.GetPreview(ctx, "web-preview-login")
		_, errApp := h.store.GetApp(ctx, "web-preview-login")
		return errPreview != nil && errApp != nil
	})
	events, _ := h.store.Events(ctx, store.EventFilter{App: "web", Types: []string{store.EventPreviewDestroyed}})
	if len(events) != 1 || !strings.Contains(string(events[0].Data), "push to branch preview/login deleted the branch") {
		t.Errorf("preview.destroyed events: %v", events)
	}
	if body := hostGet(t, h.prodAddr, "preview-login.web.example.test"); !strings.HasPrefix(body, "version 1 ") {
		t.Errorf("after the preview is gone its host answers %q; want the app (the listener's default)", body)
	}
}

// hostGet returns the body addr answers at / for Host host.
func hostGet(t *testing.T, addr, host string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}
