package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// scriptedPipelines records executions and settings in the real store
// and answers stop, approve and reject with err; the real pipeline
// (internal/pipeline) is covered by its own tests and by cmd/cutover's
// golden tests against a daemon. It counts the state-changing calls.
type scriptedPipelines struct {
	st    *store.Store
	err   error
	calls atomic.Int32

	mu       sync.Mutex
	settings map[string]pipeline.Settings
}

func (p *scriptedPipelines) Start(ctx context.Context, app string, opts pipeline.StartOptions) (store.Execution, error) {
	p.calls.Add(1)
	return p.st.CreateExecution(ctx, store.Execution{App: app, Trigger: pipeline.TriggerManual, Commit: opts.Commit, Branch: opts.Branch,
		Stages: []store.Stage{{Name: pipeline.StageSource, Status: store.StagePending}, {Name: pipeline.StageDeploy, Status: store.StagePending}}})
}

func (p *scriptedPipelines) Stop(ctx context.Context, id string) error { p.calls.Add(1); return p.err }
func (p *scriptedPipelines) Approve(ctx context.Context, id, comment string) error {
	p.calls.Add(1)
	return p.err
}
func (p *scriptedPipelines) Reject(ctx context.Context, id, comment string) error {
	p.calls.Add(1)
	return p.err
}

func (p *scriptedPipelines) Get(ctx context.Context, id string) (store.Execution, error) {
	return p.st.GetExecution(ctx, id)
}

func (p *scriptedPipelines) List(ctx context.Context, app string, limit int) ([]store.Execution, error) {
	return p.st.ListExecutions(ctx, store.ExecutionFilter{App: app, Limit: limit})
}

func (p *scriptedPipelines) StreamLog(ctx context.Context, id string, w io.Writer, follow bool) error {
	_, err := fmt.Fprintf(w, "Entering stage Source\nlog of %s\n", id)
	return err
}

func (p *scriptedPipelines) Settings(ctx context.Context, app string) (pipeline.Settings, error) {
	if _, err := p.st.GetApp(ctx, app); err != nil {
		return pipeline.Settings{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.settings[app]
	s.Mode = cmp.Or(s.Mode, pipeline.ModeSuperseded)
	if s.BuildTimeout == 0 {
		s.BuildTimeout = pipeline.DefaultBuildTimeout
	}
	if s.ApprovalTimeout == 0 {
		s.ApprovalTimeout = pipeline.DefaultApprovalTimeout
	}
	return s, nil
}

func (p *scriptedPipelines) SetSettings(ctx context.Context, app string, s pipeline.Settings) error {
	p.calls.Add(1)
	raw, _ := json.Marshal(s)
	if _, err := p.st.PutPipeline(ctx, store.Pipeline{App: app, Secret: "0123456789abcdef0123", Settings: raw}); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.settings == nil {
		p.settings = map[string]pipeline.Settings{}
	}
	p.settings[app] = s
	return nil
}

func (p *scriptedPipelines) Secret(ctx context.Context, app string) (string, error) {
	return "0123456789abcdef0123", nil
}

func TestPipelineSettings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.local

	got, err := c.Pipeline(ctx, "hello")
	want := PipelineSettings{Mode: "SUPERSEDED", ApprovalTimeout: "168h", PollInterval: "0s", BuildTimeout: "1h"}
	if err != nil || got.Settings != want || got.PushURL != "http://127.0.0.1:9190/git/hello.git" {
		t.Fatalf("defaults: %+v, %v; want %+v and the push URL", got, err, want)
	}
	got, err = c.SetPipeline(ctx, "hello", PipelineSettings{Mode: "queued", Approval: true, ApprovalTimeout: "10m", PollInterval: "1m30s"})
	want = PipelineSettings{Mode: "QUEUED", Approval: true, ApprovalTimeout: "10m", PollInterval: "1m30s", BuildTimeout: "1h"}
	if err != nil || got.Settings != want {
		t.Fatalf("after a PUT: %+v, %v; want %+v", got.Settings, err, want)
	}
	if s := f.p.settings["hello"]; s.ApprovalTimeout != 10*time.Minute || s.PollInterval != 90*time.Second || s.Mode != pipeline.ModeQueued {
		t.Errorf("the pipeline got %+v", s)
	}

	bad := []struct {
		body, detail string
	}{
		{`{"mode": "PARALLEL"}`, `mode "PARALLEL": use SUPERSEDED or QUEUED`},
		{`{"approval_timeout": "10"}`, `approval_timeout "10" is not a duration`},
		{`{"build_timeout": "-5m"}`, `build_timeout "-5m" cannot be negative`},
		{`{"poll_interval": "100ms"}`, `poll_interval "100ms": use 0s (off) or at least 1s`},
		{`{"poll_interval": 60}`, `reading the request`},
		{`{"polling": "1m"}`, `unknown field "polling"`},
	}
	for _, b := range bad {
		before := f.state(t)
		resp, err := f.local.request(ctx, http.MethodPut, "/api/v1/pipelines/hello", json.RawMessage(b.body), "")
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Detail, b.detail) {
			t.Errorf("PUT %s: %v, %v; want 400 saying %q", b.body, resp, err, b.detail)
		}
		if after := f.state(t); after != before {
			t.Errorf("PUT %s changed state", b.body)
		}
	}
	var apiErr *Error
	if _, err := c.SetPipeline(ctx, "nope", PipelineSettings{}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("settings of an unknown app: %v, want 404", err)
	}
	if _, err := c.Pipeline(ctx, "nope"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("pipeline of an unknown app: %v, want 404", err)
	}
	sec, err := c.PipelineSecret(ctx, "hello")
	if err != nil || sec.Secret != "0123456789abcdef0123" || sec.PushURL == "" {
		t.Errorf("secret: %+v, %v", sec, err)
	}
}

func TestExecutionRoutes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.local

	e, err := c.StartExecution(ctx, "hello", StartRequest{Commit: "abc1234"})
	if err != nil || e.ID != "hello-e2" || e.Commit != "abc1234" {
		t.Fatalf("start: %+v, %v", e, err)
	}
	var apiErr *Error
	if _, err := c.StartExecution(ctx, "nope", StartRequest{}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("start of an unknown app: %v, want 404", err)
	}
	for _, commit := range []string{"--upload-pack=x", "--orphan=x", "HEAD", "main", "refs/heads/main", "abc12", "abc1234 "} {
		_, err := c.StartExecution(ctx, "hello", StartRequest{Commit: commit})
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Error(), "not a commit id") {
			t.Errorf("start with commit %q: %v, want 400 saying it is not a commit id", commit, err)
		}
	}
	list, err := c.Executions(ctx, "hello", 10)
	if err != nil || len(list) != 2 || list[0].ID != "hello-e2" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	got, err := c.Execution(ctx, f.exec.ID)
	if err != nil || got.ID != f.exec.ID || len(got.Stages) != 2 {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if _, err := c.Execution(ctx, "hello-e99"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("an unknown execution: %v, want 404", err)
	}

	rc, err := c.ExecutionLogs(ctx, f.exec.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "Entering stage Source\nlog of hello-e1\n" {
		t.Errorf("logs: %q", b)
	}

	if _, err := c.ActOnExecution(ctx, f.exec.ID, "approve", "ship it"); err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.Events(ctx, store.EventFilter{Types: []string{EventPipelineAction}})
	if err != nil || len(evs) != 1 || evs[0].Actor != "local" || !strings.Contains(string(evs[0].Data), `"comment":"ship it"`) {
		t.Errorf("action events %+v, %v; want one approve by local with its comment", evs, err)
	}
}

func TestExecutionActionErrors(t *testing.T) {
	tests := []struct {
		action string
		err    error
		want   int
	}{
		{"stop", fmt.Errorf("stopping execution hello-e1: %w (Succeeded)", pipeline.ErrNotActive), http.StatusConflict},
		{"approve", fmt.Errorf("answering the approval of hello-e1: %w", pipeline.ErrNotWaiting), http.StatusConflict},
		{"reject", fmt.Errorf("answering the approval of hello-e1: %w", pipeline.ErrNotWaiting), http.StatusConflict},
		{"stop", fmt.Errorf("stopping execution: %w", pipeline.ErrNotRunning), http.StatusServiceUnavailable},
		{"stop", fmt.Errorf("stopping execution x: %w", store.ErrNotFound), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.err.Error(), func(t *testing.T) {
			f := newFixture(t)
			f.p.err = tt.err
			before := f.state(t)
			_, err := f.local.ActOnExecution(context.Background(), f.exec.ID, tt.action, "")
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != tt.want {
				t.Errorf("%v, want %d", err, tt.want)
			}
			after := f.state(t)
			if after.lastEvent != before.lastEvent {
				t.Error("a refused action was recorded")
			}
		})
	}
}

func TestPipelineRoutesWithoutAPipeline(t *testing.T) {
	f := newFixture(t)
	h := New(Options{Store: f.st, Deployer: f.d})
	for _, rt := range h.routes {
		if !strings.Contains(rt.path, "/pipelines/") && !strings.Contains(rt.path, "/executions") {
			continue
		}
		rec := httptest.NewRecorder()
		h.Local().ServeHTTP(rec, f.request(t, rt, ""))
		if rec.Code != http.StatusNotImplemented {
			t.Errorf("%s %s without a pipeline: %d, want 501", rt.method, rt.path, rec.Code)
		}
	}
}
