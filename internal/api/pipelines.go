package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// Pipelines carries out the pipeline calls; *pipeline.Pipeline
// implements it.
type Pipelines interface {
	Start(ctx context.Context, app string, opts pipeline.StartOptions) (store.Execution, error)
	Stop(ctx context.Context, id string) error
	Approve(ctx context.Context, id, comment string) error
	Reject(ctx context.Context, id, comment string) error
	Get(ctx context.Context, id string) (store.Execution, error)
	List(ctx context.Context, app string, limit int) ([]store.Execution, error)
	StreamLog(ctx context.Context, id string, w io.Writer, follow bool) error
	Settings(ctx context.Context, app string) (pipeline.Settings, error)
	SetSettings(ctx context.Context, app string, s pipeline.Settings) error
	Secret(ctx context.Context, app string) (string, error)
}

// PipelineSettings are an app's pipeline settings on the wire:
// pipeline.Settings with durations as Go duration strings ("10m",
// "1h30m"). In a PUT, an empty duration or mode means the default.
type PipelineSettings struct {
	Mode            string `json:"mode"` // SUPERSEDED or QUEUED
	Approval        bool   `json:"approval"`
	ApprovalTimeout string `json:"approval_timeout"`
	PollInterval    string `json:"poll_interval"` // "0s": no polling
	BuildTimeout    string `json:"build_timeout"`
	// Privileged gives builds the Docker Engine through cutover's filter
	// (image builds, tags, pulls and pushes only).
	Privileged bool `json:"privileged"`
	// Branch is the pipeline's branch (manual starts, polling, pushes
	// when there are no trigger filters); "": cutover.yaml's
	// source.branch.
	Branch string `json:"branch"`
	// Triggers are the trigger filters (CodePipeline V2's); absent or
	// empty: pushes to the branch only.
	Triggers *pipeline.Triggers `json:"triggers,omitempty"`
	// Conditions are the Deploy stage's conditions (conditions.go);
	// absent: none.
	Conditions *PipelineConditions `json:"conditions,omitempty"`
	// Preview gives pull requests and branches preview apps
	// (previews.go); absent: none.
	Preview *PipelinePreview `json:"preview,omitempty"`
}

// PipelineInfo is an app's pipeline: its settings and the URL of its
// built-in git remote.
type PipelineInfo struct {
	App      string           `json:"app"`
	Settings PipelineSettings `json:"settings"`
	// Branch is the branch the pipeline follows: the setting, else
	// cutover.yaml's source.branch.
	Branch string `json:"branch"`
	// PushURL is empty when cutover serves no TCP listener to push to.
	PushURL string `json:"push_url,omitempty"`
}

// PipelineSecret is an app's pipeline secret: the password of a push to
// PushURL and the secret of its webhooks.
type PipelineSecret struct {
	App     string `json:"app"`
	Secret  string `json:"secret"`
	PushURL string `json:"push_url,omitempty"`
}

// StartRequest is the optional body of a manual start: the commit to
// build (default the branch's tip) and the branch (default
// cutover.yaml's source.branch).
type StartRequest struct {
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
}

// CommentRequest is the optional body of an execution's stop, approve
// or reject.
type CommentRequest struct {
	Comment string `json:"comment,omitempty"`
}

// EventPipelineAction records a stop, approve or reject call on an
// execution; its actor is the caller. Data: PipelineActionRecord.
const EventPipelineAction = "pipeline.action"

// PipelineActionRecord is the data of a pipeline.action event.
type PipelineActionRecord struct {
	Execution string `json:"execution"`
	Action    string `json:"action"` // "stop", "approve" or "reject"
	Comment   string `json:"comment,omitempty"`
}

// withPipelines answers 501 when this cutover runs no pipeline.
func (h *Handler) withPipelines(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.pipelines == nil {
			problem(w, http.StatusNotImplemented, "this cutover runs no pipeline")
			return
		}
		next(w, r)
	}
}

func (h *Handler) pushURL(app string) string {
	if h.pushURLOf == nil {
		return ""
	}
	return h.pushURLOf(app)
}

func (h *Handler) getPipeline(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	s, err := h.pipelines.Settings(r.Context(), app)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.pipelineInfo(r.Context(), app, s))
}

func (h *Handler) putPipeline(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	var req PipelineSettings
	if !decode(w, r, &req) {
		return
	}
	s, err := parseSettings(req)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := h.store.GetApp(ctx, app); err != nil {
		h.fail(w, err)
		return
	}
	if err := h.pipelines.SetSettings(ctx, app, s); err != nil {
		h.fail(w, err)
		return
	}
	if s, err = h.pipelines.Settings(ctx, app); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.pipelineInfo(r.Context(), app, s))
}

func (h *Handler) pipelineSecret(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	if _, err := h.store.GetApp(ctx, app); err != nil {
		h.fail(w, err)
		return
	}
	secret, err := h.pipelines.Secret(ctx, app)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PipelineSecret{App: app, Secret: secret, PushURL: h.pushURL(app)})
}

func (h *Handler) startExecution(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	var req StartRequest
	if !decodeOptional(w, r, &req) {
		return
	}
	if req.Commit != "" {
		if err := pipeline.CheckCommitName(req.Commit); err != nil {
			problem(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if strings.HasPrefix(req.Branch, "-") || strings.ContainsAny(req.Branch, " \t\n\r") {
		problem(w, http.StatusBadRequest, fmt.Sprintf("branch %q: not a git branch", req.Branch))
		return
	}
	a, err := h.store.GetApp(ctx, app)
	if err != nil {
		h.fail(w, err)
		return
	}
	if len(a.Spec) == 0 {
		problem(w, http.StatusConflict, fmt.Sprintf("app %s has no configuration yet: deploy it once with `cutover up` or `cutover deploy`", app))
		return
	}
	e, err := h.pipelines.Start(ctx, app, pipeline.StartOptions{Commit: req.Commit, Branch: req.Branch})
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (h *Handler) listExecutions(w http.ResponseWriter, r *http.Request) {
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	es, err := h.pipelines.List(r.Context(), r.URL.Query().Get("app"), limit)
	if err != nil {
		h.fail(w, err)
		return
	}
	if es == nil {
		es = []store.Execution{}
	}
	writeJSON(w, http.StatusOK, es)
}

func (h *Handler) getExecution(w http.ResponseWriter, r *http.Request) {
	e, err := h.pipelines.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// executionAction calls stop, approve or reject and records the call,
// with its caller and comment, in the event log.
func (h *Handler) executionAction(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		var req CommentRequest
		if !decodeOptional(w, r, &req) {
			return
		}
		var err error
		switch name {
		case "stop":
			err = h.pipelines.Stop(ctx, id)
		case "approve":
			err = h.pipelines.Approve(ctx, id, req.Comment)
		case "reject":
			err = h.pipelines.Reject(ctx, id, req.Comment)
		}
		if err != nil {
			h.fail(w, err)
			return
		}
		e, err := h.pipelines.Get(ctx, id)
		if err != nil {
			h.fail(w, err)
			return
		}
		data, _ := json.Marshal(PipelineActionRecord{Execution: id, Action: name, Comment: req.Comment})
		if _, err := h.store.Append(ctx, store.Event{Type: EventPipelineAction, App: e.App, Data: data}); err != nil {
			h.log.Error("recording a pipeline action", "execution", id, "action", name, "error", err)
		}
		writeJSON(w, http.StatusOK, e)
	}
}

// executionLogs streams an execution's log as text; with ?follow=1 it
// goes on until the execution ends or the client goes.
func (h *Handler) executionLogs(w http.ResponseWriter, r *http.Request) {
	follow, err := queryFollow(r.URL.Query())
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	if _, err := h.pipelines.Get(r.Context(), id); err != nil {
		h.fail(w, err)
		return
	}
	ctx, cancel := h.untilClosing(r.Context())
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if follow {
		http.NewResponseController(w).Flush() // the client sees the answer before the first line
	}
	if err := h.pipelines.StreamLog(ctx, id, w, follow); err != nil && ctx.Err() == nil {
		h.log.Error("streaming an execution's log", "execution", id, "error", err)
	}
}

// parseLimit reads ?limit=, 1 to 1000, default 20.
func parseLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 20, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		problem(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
		return 0, false
	}
	return n, true
}

// decodeOptional decodes a JSON body into v, if there is one.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		problem(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return false
	}
	return true
}

// parseSettings checks settings from a request, saying which field is
// wrong and why.
func parseSettings(req PipelineSettings) (pipeline.Settings, error) {
	s := pipeline.Settings{Mode: strings.ToUpper(req.Mode), Approval: req.Approval, Privileged: req.Privileged}
	if err := parseTriggers(req, &s); err != nil {
		return s, err
	}
	var err error
	if s.Conditions, err = parseConditions(req.Conditions); err != nil {
		return s, err
	}
	if s.Preview, err = parsePreview(req.Preview); err != nil {
		return s, err
	}
	if s.Mode != "" && s.Mode != pipeline.ModeSuperseded && s.Mode != pipeline.ModeQueued {
		return s, fmt.Errorf("mode %q: use %s or %s", req.Mode, pipeline.ModeSuperseded, pipeline.ModeQueued)
	}
	durations := []struct {
		name  string
		value string
		to    *time.Duration
	}{
		{"approval_timeout", req.ApprovalTimeout, &s.ApprovalTimeout},
		{"poll_interval", req.PollInterval, &s.PollInterval},
		{"build_timeout", req.BuildTimeout, &s.BuildTimeout},
	}
	for _, d := range durations {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil {
			return s, fmt.Errorf("%s %q is not a duration: write it like \"90s\", \"10m\" or \"1h30m\"", d.name, d.value)
		}
		if v < 0 {
			return s, fmt.Errorf("%s %q cannot be negative", d.name, d.value)
		}
		*d.to = v
	}
	if s.PollInterval > 0 && s.PollInterval < time.Second {
		return s, fmt.Errorf("poll_interval %q: use 0s (off) or at least 1s", req.PollInterval)
	}
	return s, nil
}

func wireSettings(s pipeline.Settings) PipelineSettings {
	return PipelineSettings{
		Mode:            s.Mode,
		Approval:        s.Approval,
		ApprovalTimeout: formatDuration(s.ApprovalTimeout),
		PollInterval:    formatDuration(s.PollInterval),
		BuildTimeout:    formatDuration(s.BuildTimeout),
		Privileged:      s.Privileged,
		Branch:          s.Branch,
		Triggers:        wireTriggers(s.Triggers),
		Conditions:      wireConditions(s.Conditions),
		Preview:         wirePreview(s.Preview),
	}
}

// formatDuration writes d without zero units: "1h", "10m", "1m30s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// pipelineStatus maps the pipeline's errors to statuses; ok is false
// for other errors.
func pipelineStatus(err error) (status int, ok bool) {
	switch {
	case errors.Is(err, pipeline.ErrNotActive), errors.Is(err, pipeline.ErrNotWaiting):
		return http.StatusConflict, true
	case errors.Is(err, pipeline.ErrNotRunning):
		return http.StatusServiceUnavailable, true
	case errors.Is(err, pipeline.ErrBadCommit):
		return http.StatusBadRequest, true
	}
	return 0, false
}
