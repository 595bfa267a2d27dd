package web

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// TestDeploymentPageShowsReleaseOutput: the Release step shows the
// release command's output, line by line, and its one-off task is no
// target of the deployment.
func TestDeploymentPageShowsReleaseOutput(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ev, err := f.store.StartLifecycleEvent(ctx, f.dep.ID, "Release")
	if err != nil {
		t.Fatal(err)
	}
	output := "release command exited with code 3 after 0.4s; output:\nmigrating <users>\nmigration 7 failed"
	if _, err := f.store.EndLifecycleEvent(ctx, f.dep.ID, ev.Seq, store.LifecycleFailed, output); err != nil {
		t.Fatal(err)
	}
	release := store.Task{ID: "hello-r2-release-1a2b3c", App: "hello", Revision: f.dep.ToRevision, TaskSet: deploy.TaskSetOneOff, State: store.TaskRunning}
	if err := f.store.PutTask(ctx, release); err != nil {
		t.Fatal(err)
	}
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "rita", store.RoleRead))
	resp, body := get(t, c, f.srv.URL, "/deployments/"+f.dep.ID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s:\n%s", resp.Status, body)
	}
	if !strings.Contains(body, html.EscapeString(output)) {
		t.Errorf("the page lacks the Release step's output %q:\n%s", output, body)
	}
	if strings.Contains(body, release.ID) {
		t.Errorf("the page lists the release command's task %s as a target", release.ID)
	}
}
