package api

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"

	"github.com/cutover/cutover/internal/pipeline"
)

// pipelineInfo is an app's pipeline as GET and PUT /api/v1/pipelines/{app}
// answer it, with the branch it follows.
func (h *Handler) pipelineInfo(ctx context.Context, app string, s pipeline.Settings) PipelineInfo {
	info := PipelineInfo{App: app, Settings: wireSettings(s), PushURL: h.pushURL(app), Branch: s.Branch}
	if info.Branch == "" {
		info.Branch = "main"
		if a, err := h.store.GetApp(ctx, app); err == nil && len(a.Spec) > 0 {
			var spec struct{ Source struct{ Branch string } }
			if json.Unmarshal(a.Spec, &spec) == nil {
				info.Branch = cmp.Or(spec.Source.Branch, info.Branch)
			}
		}
	}
	return info
}

// parseTriggers checks the branch and trigger filters of a request;
// events may be written as CodePipeline writes them (OPEN).
func parseTriggers(req PipelineSettings, s *pipeline.Settings) error {
	if req.Branch != "" {
		if err := pipeline.CheckBranchName(req.Branch); err != nil {
			return err
		}
	}
	s.Branch = req.Branch
	if req.Triggers == nil {
		return nil
	}
	t := *req.Triggers
	t.PullRequest = append([]pipeline.PullRequestFilter(nil), t.PullRequest...)
	for i := range t.PullRequest {
		events := make([]string, len(t.PullRequest[i].Events))
		for j, e := range t.PullRequest[i].Events {
			events[j] = strings.ToLower(e)
		}
		t.PullRequest[i].Events = events
	}
	if err := t.Check(); err != nil {
		return err
	}
	s.Triggers = t
	return nil
}

func wireTriggers(t pipeline.Triggers) *pipeline.Triggers {
	if t.IsZero() {
		return nil
	}
	return &t
}
