package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// Releases gives the fixture's app three releases: r3 running, r2 the
// previous, r1's release removed by retention.
func (d *recordingDeployer) Releases(_ context.Context, app string) (deploy.ReleaseList, error) {
	if app != "hello" {
		return deploy.ReleaseList{}, fmt.Errorf("app %s: %w", app, store.ErrNotFound)
	}
	return deploy.ReleaseList{App: app, Retain: 2, DiskBytes: 3 << 20, Releases: []deploy.Release{
		{Revision: "hello-r3", Number: 3, Commit: "0123456789abcdef", Actor: "token:dora", Status: deploy.ReleaseRunning,
			Deployment: "hello-d3", Artifact: "/data/releases/hello/aaaa", Available: true, Size: 1 << 20},
		{Revision: "hello-r2", Number: 2, Status: deploy.ReleasePrevious, Artifact: "/data/releases/hello/bbbb", Available: true, Size: 2 << 20},
		{Revision: "hello-r1", Number: 1, Status: deploy.ReleaseRetired, Artifact: "/data/releases/hello/cccc"},
	}}, nil
}

func (d *recordingDeployer) RollbackTo(_ context.Context, app, revision string) (store.Deployment, error) {
	if err := d.record("rollback to", app+" "+revision); err != nil {
		return store.Deployment{}, err
	}
	return store.Deployment{ID: "hello-d4", App: app, ToRevision: "hello-r4"}, nil
}

// TestReleaseListAndRollbackButton: the app's page lists its releases
// with their status and size; a deployer rolls back to r2 through a
// confirmation and a POST with the CSRF token; the running revision and
// one whose release is gone have no button and no confirmation; a
// reader sees no button and is refused.
func TestReleaseListAndRollbackButton(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	csrf := f.signIn(t, c, f.token(t, "dora", store.RoleDeploy))

	_, body := get(t, c, f.srv.URL, "/apps/hello")
	for _, want := range []string{`id="releases"`, "3.0 MiB on disk", "the newest 2 are kept", "hello-r3", "running", "01234567",
		"token:dora", "2.0 MiB", "removed", `href="/apps/hello/releases/hello-r2/confirm"`} {
		if !strings.Contains(body, want) {
			t.Errorf("app page lacks %q:\n%s", want, body)
		}
	}
	for _, rev := range []string{"hello-r3", "hello-r1"} {
		if strings.Contains(body, "/releases/"+rev+"/confirm") {
			t.Errorf("app page has a rollback button for %s", rev)
		}
		if resp, _ := get(t, c, f.srv.URL, "/apps/hello/releases/"+rev+"/confirm"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("confirmation of %s: %s, want 404", rev, resp.Status)
		}
	}
	resp, body := get(t, c, f.srv.URL, "/apps/hello/releases/hello-r2/confirm")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/apps/hello/releases/hello-r2/rollback"`) || !strings.Contains(body, csrf) {
		t.Errorf("confirmation: %s\n%s", resp.Status, body)
	}
	if resp, _ := post(t, c, f.srv.URL, "/apps/hello/releases/hello-r2/rollback", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a forged CSRF token: %s, want 403", resp.Status)
	}
	if calls := f.deployer.Calls(); len(calls) != 0 {
		t.Fatalf("a refused POST pressed %v", calls)
	}
	resp, _ = post(t, c, f.srv.URL, "/apps/hello/releases/hello-r2/rollback", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/deployments/hello-d4") {
		t.Errorf("POST rollback: %s to %q, want 303 to the deployment", resp.Status, resp.Header.Get("Location"))
	}
	if got := f.deployer.Calls(); strings.Join(got, ";") != "rollback to hello hello-r2" {
		t.Errorf("calls %q, want one rollback to hello-r2", got)
	}

	rc := f.browser(t)
	rcsrf := f.signIn(t, rc, f.token(t, "rita", store.RoleRead))
	if _, body := get(t, rc, f.srv.URL, "/apps/hello"); !strings.Contains(body, "hello-r2") || strings.Contains(body, "/confirm") {
		t.Error("a reader's app page lacks the releases or has a rollback button")
	}
	if resp, _ := get(t, rc, f.srv.URL, "/apps/hello/releases/hello-r2/confirm"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's confirmation: %s, want 403", resp.Status)
	}
	if resp, _ := post(t, rc, f.srv.URL, "/apps/hello/releases/hello-r2/rollback", url.Values{"csrf": {rcsrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's POST: %s, want 403", resp.Status)
	}
	if n := len(f.deployer.Calls()); n != 1 {
		t.Errorf("a reader pressed the button: %d calls", n)
	}
}
