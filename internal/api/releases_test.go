package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

func (d *scriptedDeployer) Releases(ctx context.Context, app string) (deploy.ReleaseList, error) {
	if _, err := d.st.GetApp(ctx, app); err != nil {
		return deploy.ReleaseList{}, err
	}
	revs, err := d.st.ListRevisions(ctx, app)
	if err != nil {
		return deploy.ReleaseList{}, err
	}
	l := deploy.ReleaseList{App: app, Retain: deploy.DefaultRetainReleases}
	for _, r := range revs {
		l.Releases = append(l.Releases, deploy.Release{Revision: r.ID, Number: r.Number, Artifact: r.Artifact, Available: true})
	}
	return l, nil
}

func (d *scriptedDeployer) RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error) {
	d.calls.Add(1)
	if d.err != nil {
		return store.Deployment{}, d.err
	}
	if _, err := d.st.Append(ctx, store.Event{Type: "test.rollback_to", App: app, Actor: store.Actor(ctx)}); err != nil {
		return store.Deployment{}, err
	}
	return store.Deployment{ID: app + "-d9", App: app, ToRevision: app + "-r9", Status: store.DeploymentInProgress}, nil
}

// TestReleaseRoutes lists the releases and asks for a rollback to a
// revision; a request without "to", with an unknown field or not JSON
// is refused before the Deployer is called.
func TestReleaseRoutes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, err := f.local.Releases(ctx, "hello")
	if err != nil || l.App != "hello" || len(l.Releases) != 1 || l.Releases[0].Revision != f.dep.ToRevision {
		t.Fatalf("Releases = %+v, %v; want the fixture's revision %s", l, err, f.dep.ToRevision)
	}
	if _, err := f.local.Releases(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Releases(unknown app) = %v; want not found", err)
	}
	d, err := f.local.RollbackTo(ctx, "hello", "r1")
	if err != nil || d.ID != "hello-d9" {
		t.Fatalf("RollbackTo = %+v, %v", d, err)
	}

	calls := f.d.calls.Load()
	for _, body := range []string{`{}`, `{"to": ""}`, `{"to": "r1", "from": "r2"}`, `r1`} {
		req, _ := http.NewRequest(http.MethodPost, f.remote+"/api/v1/apps/hello/rollback", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.secrets["deployer"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", body, resp.StatusCode)
		}
	}
	if n := f.d.calls.Load(); n != calls {
		t.Errorf("refused requests called the Deployer %d times", n-calls)
	}
}
