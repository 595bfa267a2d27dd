package web

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// onePipeline serves one execution.
type onePipeline struct{ e store.Execution }

func (p onePipeline) Get(ctx context.Context, id string) (store.Execution, error) {
	if id != p.e.ID {
		return store.Execution{}, store.ErrNotFound
	}
	return p.e, nil
}

func (p onePipeline) List(ctx context.Context, app string, limit int) ([]store.Execution, error) {
	return []store.Execution{p.e}, nil
}

func (p onePipeline) StreamLog(ctx context.Context, id string, w io.Writer, follow bool) error { return nil }

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
