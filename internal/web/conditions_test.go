package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// onePipeline serves one execution.
type onePipeline struct{ e store.Execution }

// overridingPipeline is onePipeline that records overrides; err
// answers them.
type overridingPipeline struct {
	onePipeline
	err        error
	overridden *[]string // the actors of the overrides
}

func (p overridingPipeline) Override(ctx context.Context, id string) error {
	if p.err != nil {
		return p.err
	}
	*p.overridden = append(*p.overridden, store.Actor(ctx))
	return nil
}

func (p onePipeline) Get(ctx context.Context, id string) (store.Execution, error) {
	if id != p.e.ID {
		return store.Execution{}, store.ErrNotFound
	}
	return p.e, nil
}

func (p onePipeline) List(ctx context.Context, app string, limit int) ([]store.Execution, error) {
	return []store.Execution{p.e}, nil
}

func (p onePipeline) StreamLog(ctx context.Context, id string, w io.Writer, follow bool) error {
	return nil
}

func TestExecutionPageShowsStageConditions(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	e := store.Execution{ID: "hello-e3", App: "hello", Status: store.ExecutionInProgress, Stages: []store.Stage{
		{Name: "Source", Status: store.StageSucceeded},
		{Name: "Deploy", Status: store.StageInProgress, Message: "waiting: outside the deploy window", Conditions: []store.Condition{
			{When: store.ConditionBeforeEntry, Rule: "DeploymentWindow", Config: "Mon-Fri 09:00-17:00 Europe/Berlin", Result: store.ResultRetry,
				Status: store.ConditionOverridden, OverriddenBy: "token:alice", Evaluations: 3, LastEvaluatedAt: at,
				Message: "outside the deploy window Mon-Fri 09:00-17:00 Europe/Berlin: it opens 2026-12-07 09:00 CET"},
			{When: store.ConditionOnSuccess, Rule: "BakeTime", Config: "10m0s", Result: store.ResultRollback, Status: store.ConditionPending},
		}},
	}}
	h := New(Options{Store: f.store, Deployer: f.deployer, Pipeline: onePipeline{e}})
	t.Cleanup(h.CloseStreams)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "reader", "read"))

	resp, body := get(t, c, f.srv.URL, "/pipelines/hello-e3")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /pipelines/hello-e3: %s", resp.Status)
	}
	for _, want := range []string{
		`beforeEntry DeploymentWindow</span> <code>Mon-Fri 09:00-17:00 Europe/Berlin</code>`,
		`Overridden by token:alice`,
		`if not met: RETRY · evaluated 3×`,
		`it opens 2026-12-07 09:00 CET`,
		`onSuccess BakeTime</span> <code>10m0s</code>`,
		`if not met: ROLLBACK`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the execution page lacks %q", want)
		}
	}
}

func TestOverrideButton(t *testing.T) {
	f := newFixture(t)
	waiting := store.Execution{ID: "hello-e3", App: "hello", Status: store.ExecutionInProgress, Stages: []store.Stage{
		{Name: "Deploy", Status: store.StageInProgress, Message: "waiting: outside the deploy window Mon 09:00-10:00 UTC: it opens 2026-12-07 09:00 UTC",
			Conditions: []store.Condition{{When: store.ConditionBeforeEntry, Rule: "DeploymentWindow", Result: store.ResultRetry, Status: store.ConditionInProgress}}},
	}}
	var overridden []string
	pipe := overridingPipeline{onePipeline: onePipeline{waiting}, overridden: &overridden}
	h := New(Options{Store: f.store, Deployer: f.deployer, Pipeline: pipe})
	t.Cleanup(h.CloseStreams)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)

	deployer := f.browser(t)
	csrf := f.signIn(t, deployer, f.token(t, "deployer", "deploy"))
	if resp, _ := get(t, deployer, f.srv.URL, "/pipelines/hello-e3/confirm/override"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a deployer's confirm page: %s, want 403", resp.Status)
	}
	if resp, _ := post(t, deployer, f.srv.URL, "/pipelines/hello-e3/override", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a deployer's override: %s, want 403", resp.Status)
	}

	admin := f.browser(t)
	csrf = f.signIn(t, admin, f.token(t, "alice", "admin"))
	if _, body := get(t, admin, f.srv.URL, "/pipelines/hello-e3"); !strings.Contains(body, `href="/pipelines/hello-e3/confirm/override"`) {
		t.Fatalf("the waiting execution's page has no override button")
	}
	resp, body := get(t, admin, f.srv.URL, "/pipelines/hello-e3/confirm/override")
	if resp.StatusCode != 200 || !strings.Contains(body, "waits before its Deploy stage: outside the deploy window Mon 09:00-10:00 UTC") {
		t.Fatalf("confirm page: %s\n%s", resp.Status, body)
	}
	if resp, _ := post(t, admin, f.srv.URL, "/pipelines/hello-e3/override", url.Values{"csrf": {"stale"}}); resp.StatusCode != http.StatusForbidden || len(overridden) != 0 {
		t.Errorf("an override without the CSRF token: %s, %d overrides; want 403 and none", resp.Status, len(overridden))
	}
	resp, _ = post(t, admin, f.srv.URL, "/pipelines/hello-e3/override", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || len(overridden) != 1 || overridden[0] != "token:alice" {
		t.Fatalf("override: %s, overrides %v; want 303 and one by token:alice", resp.Status, overridden)
	}

	// An execution not waiting: no button, and the override is refused.
	done := waiting
	done.Stages = []store.Stage{{Name: "Deploy", Status: store.StageSucceeded, Conditions: waiting.Stages[0].Conditions}}
	pipe.e, pipe.err = done, pipeline.ErrNoConditionWaiting
	h2 := New(Options{Store: f.store, Deployer: f.deployer, Pipeline: pipe})
	t.Cleanup(h2.CloseStreams)
	srv2 := httptest.NewServer(h2)
	t.Cleanup(srv2.Close)
	f.srv = srv2
	admin = f.browser(t)
	csrf = f.signIn(t, admin, f.token(t, "bob", "admin"))
	if _, body := get(t, admin, srv2.URL, "/pipelines/hello-e3"); strings.Contains(body, `id="override"`) {
		t.Errorf("an execution not waiting shows the override button")
	}
	if resp, _ := get(t, admin, srv2.URL, "/pipelines/hello-e3/confirm/override"); resp.StatusCode != http.StatusConflict {
		t.Errorf("confirm page of an execution not waiting: %s, want 409", resp.Status)
	}
	if resp, _ := post(t, admin, srv2.URL, "/pipelines/hello-e3/override", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("override of an execution not waiting: %s, want 409", resp.Status)
	}
}
