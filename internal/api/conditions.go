package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// PipelineConditions are the Deploy stage's conditions on the wire:
// pipeline.Conditions with durations as Go duration strings.
type PipelineConditions struct {
	// DeployWindow, e.g. "Mon-Fri 09:00-17:00" or "cron(0 9 * * 1-5)
	// 8h", in TimeZone (IANA, default UTC); "" is none.
	DeployWindow string `json:"deploy_window,omitempty"`
	TimeZone     string `json:"time_zone,omitempty"`
	WindowResult string `json:"window_result,omitempty"` // retry (default) or fail
	NoOpenAlarm  string `json:"no_open_alarm,omitempty"` // "" (off), retry or fail
	// RetryInterval: how often waiting conditions are evaluated again
	// (default 1m).
	RetryInterval string `json:"retry_interval,omitempty"`
	BakeTime      string `json:"bake_time,omitempty"` // "" or "0s": none
}

// Overrider lets an execution waiting for stage conditions in;
// *pipeline.Pipeline implements it.
type Overrider interface {
	Override(ctx context.Context, id string) error
}

func parseConditions(req *PipelineConditions) (pipeline.Conditions, error) {
	if req == nil {
		return pipeline.Conditions{}, nil
	}
	c := pipeline.Conditions{DeployWindow: req.DeployWindow, TimeZone: req.TimeZone, WindowResult: req.WindowResult, NoOpenAlarm: req.NoOpenAlarm}
	for _, d := range []struct {
		name, value string
		to          *time.Duration
	}{
		{"conditions.retry_interval", req.RetryInterval, &c.RetryInterval},
		{"conditions.bake_time", req.BakeTime, &c.BakeTime},
	} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil {
			return c, fmt.Errorf("%s %q is not a duration: write it like \"90s\", \"10m\" or \"1h30m\"", d.name, d.value)
		}
		*d.to = v
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("conditions: %w", err)
	}
	return c, nil
}

func wireConditions(c pipeline.Conditions) *PipelineConditions {
	if c == (pipeline.Conditions{}) {
		return nil
	}
	w := &PipelineConditions{DeployWindow: c.DeployWindow, TimeZone: c.TimeZone, WindowResult: c.WindowResult, NoOpenAlarm: c.NoOpenAlarm}
	if c.RetryInterval > 0 {
		w.RetryInterval = formatDuration(c.RetryInterval)
	}
	if c.BakeTime > 0 {
		w.BakeTime = formatDuration(c.BakeTime)
	}
	return w
}

// overrideExecution lets an execution waiting for the Deploy stage's
// entry conditions in (admin), and records the call with its caller.
func (h *Handler) overrideExecution(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var req CommentRequest
	if !decodeOptional(w, r, &req) {
		return
	}
	o, ok := h.pipelines.(Overrider)
	if !ok {
		problem(w, http.StatusNotImplemented, "this cutover's pipeline has no stage conditions")
		return
	}
	if err := o.Override(ctx, id); err != nil {
		if errors.Is(err, pipeline.ErrNoConditionWaiting) {
			problem(w, http.StatusConflict, err.Error())
			return
		}
		h.fail(w, err)
		return
	}
	e, err := h.pipelines.Get(ctx, id)
	if err != nil {
		h.fail(w, err)
		return
	}
	data, _ := json.Marshal(PipelineActionRecord{Execution: id, Action: "override", Comment: req.Comment})
	if _, err := h.store.Append(ctx, store.Event{Type: EventPipelineAction, App: e.App, Data: data}); err != nil {
		h.log.Error("recording a pipeline action", "execution", id, "action", "override", "error", err)
	}
	writeJSON(w, http.StatusOK, e)
}
