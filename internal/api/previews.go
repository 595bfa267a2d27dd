package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// PipelinePreview are the preview settings on the wire (pipeline.Preview
// with the idle time as a Go duration string: "72h", "-1s" for never).
type PipelinePreview struct {
	Domain       string             `json:"domain"` // "*.hello.example.com"
	Branches     *pipeline.Patterns `json:"branches,omitempty"`
	Count        int                `json:"count,omitempty"`
	Env          map[string]string  `json:"env,omitempty"`
	TestListener string             `json:"test_listener,omitempty"`
	Idle         string             `json:"idle,omitempty"`
	Limit        int                `json:"limit,omitempty"`
}

func parsePreview(req *PipelinePreview) (*pipeline.Preview, error) {
	if req == nil {
		return nil, nil
	}
	pv := &pipeline.Preview{Domain: req.Domain, Branches: req.Branches, Count: req.Count, Env: req.Env, TestListener: req.TestListener, Limit: req.Limit}
	if req.Idle != "" {
		d, err := time.ParseDuration(req.Idle)
		if err != nil {
			return nil, fmt.Errorf("preview.idle %q is not a duration: write it like \"72h\" or \"30m\" (negative: never)", req.Idle)
		}
		pv.Idle = d
	}
	if err := pv.Check(); err != nil {
		return nil, err
	}
	return pv, nil
}

func wirePreview(pv *pipeline.Preview) *PipelinePreview {
	if pv == nil {
		return nil
	}
	w := &PipelinePreview{Domain: pv.Domain, Branches: pv.Branches, Count: pv.Count, Env: pv.Env, TestListener: pv.TestListener, Limit: pv.Limit}
	if pv.Idle != 0 {
		w.Idle = formatDuration(pv.Idle)
	}
	return w
}

// previewOf is the preview record of app, or nil when app is no preview
// app.
func (h *Handler) previewOf(ctx context.Context, app string) (*store.Preview, error) {
	pv, err := h.store.GetPreview(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &pv, nil
}
