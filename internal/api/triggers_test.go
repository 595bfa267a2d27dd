package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/pipeline"
)

func TestPipelineTriggerSettings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.local

	got, err := c.Pipeline(ctx, "hello")
	if err != nil || got.Branch != "main" || got.Settings.Branch != "" || got.Settings.Triggers != nil {
		t.Fatalf("defaults: %+v, %v; want branch main from cutover.yaml and no filters", got, err)
	}
	triggers := &pipeline.Triggers{
		Push: []pipeline.PushFilter{
			{Branches: &pipeline.Patterns{Includes: []string{"main", "release/**"}}, FilePaths: &pipeline.Patterns{Excludes: []string{"docs/**"}}},
			{Tags: &pipeline.Patterns{Includes: []string{"v*"}}},
		},
		PullRequest: []pipeline.PullRequestFilter{{Events: []string{"OPEN", "updated"}, Branches: &pipeline.Patterns{Includes: []string{"main"}}}},
	}
	got, err = c.SetPipeline(ctx, "hello", PipelineSettings{Branch: "trunk", Triggers: triggers})
	if err != nil || got.Branch != "trunk" || got.Settings.Branch != "trunk" {
		t.Fatalf("after a PUT: %+v, %v", got, err)
	}
	triggers.PullRequest[0].Events = []string{"open", "updated"} // stored as cutover writes them
	if !reflect.DeepEqual(got.Settings.Triggers, triggers) || !reflect.DeepEqual(f.p.settings["hello"].Triggers, *triggers) {
		t.Fatalf("triggers = %+v, the pipeline got %+v; want %+v", got.Settings.Triggers, f.p.settings["hello"].Triggers, triggers)
	}

	bad := []struct{ body, detail string }{
		{`{"branch": "--upload-pack=x"}`, `branch "--upload-pack=x" is not a valid git ref name`},
		{`{"branch": "a b"}`, `is not a valid git ref name`},
		{`{"triggers": {"push": [{}]}}`, `triggers.push[0]: name branches or tags`},
		{`{"triggers": {"push": [{"tags": {"includes": ["v[0-9"]}}]}}`, `triggers.push[0].tags.includes: pattern "v[0-9": [ without ]`},
		{`{"triggers": {"push": [{"tags": {"includes": ["v*"]}, "file_paths": {"includes": ["src/**"]}}]}}`, `file_paths filter branch pushes only`},
		{`{"triggers": {"pull_request": [{"events": ["merged"]}]}}`, `"merged" is not an event: use open, updated or closed`},
		{`{"triggers": {"push": [{"branch": {"includes": ["main"]}}]}}`, `unknown field "branch"`},
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
	// A PUT without triggers removes them; the branch goes back to
	// cutover.yaml's.
	if got, err = c.SetPipeline(ctx, "hello", PipelineSettings{}); err != nil || got.Settings.Triggers != nil || got.Branch != "main" {
		t.Fatalf("after clearing: %+v, %v", got, err)
	}
}
