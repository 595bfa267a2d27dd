package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// errNoPipeline answers the pipeline pages of a dashboard without one.
var errNoPipeline = errors.New("this cutover runs no pipeline")

type executionsData struct {
	Executions []store.Execution
}

func (h *Handler) executions(w http.ResponseWriter, r *http.Request) {
	if h.pipeline == nil {
		h.fail(w, r, errNoPipeline)
		return
	}
	list, err := h.pipeline.List(r.Context(), r.URL.Query().Get("app"), 50)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "executions", "Pipelines", executionsData{Executions: list})
}

// executionView is an execution's page.
type executionView struct {
	E      store.Execution
	Stages []stageRow
}

type stageRow struct {
	store.Stage
	Took    string
	Waiting bool // for its entry conditions: an admin may override them
}

func (h *Handler) executionView(ctx context.Context, id string) (executionView, error) {
	e, err := h.pipeline.Get(ctx, id)
	if err != nil {
		return executionView{}, err
	}
	v := executionView{E: e}
	for _, st := range e.Stages {
		row := stageRow{Stage: st, Waiting: st.Name == pipeline.StageDeploy && waitingFor(e) != ""}
		switch {
		case st.StartedAt.IsZero():
		case st.EndedAt.IsZero():
			row.Took = formatDuration(h.now().Sub(st.StartedAt))
		default:
			row.Took = formatDuration(st.EndedAt.Sub(st.StartedAt))
		}
		v.Stages = append(v.Stages, row)
	}
	return v, nil
}

func (h *Handler) executionPage(w http.ResponseWriter, r *http.Request) {
	if h.pipeline == nil {
		h.fail(w, r, errNoPipeline)
		return
	}
	v, err := h.executionView(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "execution", "Execution "+v.E.ID, v)
}

// executionLog serves the whole log as plain text, for reading without
// JavaScript or saving.
func (h *Handler) executionLog(w http.ResponseWriter, r *http.Request) {
	if h.pipeline == nil {
		h.fail(w, r, errNoPipeline)
		return
	}
	if _, err := h.pipeline.Get(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.pipeline.StreamLog(r.Context(), r.PathValue("id"), w, false); err != nil {
		h.log.Warn("serving a build log", "execution", r.PathValue("id"), "error", err)
	}
}

// executionLive streams an execution's page: "stages" when a stage or
// the execution changes, and "log" with each piece of the build log as
// it is written. A log event's id is the log's length so far, so a
// browser that reconnects (sending it as Last-Event-ID) gets only the
// rest.
func (h *Handler) executionLive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if h.pipeline == nil {
		h.fail(w, r, errNoPipeline)
		return
	}
	if _, err := h.pipeline.Get(ctx, id); err != nil {
		h.fail(w, r, err)
		return
	}
	skip, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	after, err := h.store.LastEventID(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	events := h.store.Subscribe(ctx, after)
	s, err := startSSE(w)
	if err != nil {
		return
	}
	live := &liveExecution{h: h, id: id, s: s, skip: skip}
	chunks := h.logChunks(ctx, id)
	if err := live.pushStages(ctx); err != nil {
		return
	}
	tick := time.NewTicker(liveTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-tick.C:
			err = live.pushStages(ctx) // durations of running stages
		case ev, ok := <-events:
			if !ok {
				return
			}
			if executionOf(ev) == id {
				err = live.pushStages(ctx)
			}
		case chunk, ok := <-chunks:
			if !ok {
				chunks = nil // the log is complete; stay open for the stages
				continue
			}
			err = live.pushLog(chunk)
		}
		if err != nil {
			return
		}
	}
}

// logChunks streams an execution's build log, following it while it
// grows, until ctx ends or the log is complete.
func (h *Handler) logChunks(ctx context.Context, id string) <-chan []byte {
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		lw := &chanWriter{ctx: ctx, ch: chunks}
		if err := h.pipeline.StreamLog(ctx, id, lw, true); err != nil {
			h.log.Warn("streaming a build log", "execution", id, "error", err)
		}
	}()
	return chunks
}

// liveExecution is what an execution page's event stream has sent: the
// stages as last rendered, and how far into the log it is.
type liveExecution struct {
	h          *Handler
	id         string
	s          *sseStream
	lastStages string
	skip       int64  // log bytes the client has (its Last-Event-ID)
	offset     int64  // log bytes read
	pending    []byte // an incomplete UTF-8 sequence held back
}

// pushStages sends the stages when they look different from the last
// sent.
func (l *liveExecution) pushStages(ctx context.Context) error {
	v, err := l.h.executionView(ctx, l.id)
	if err != nil {
		return err
	}
	html, err := l.h.fragment("execution", "stages", v)
	if err != nil || html == l.lastStages {
		return err
	}
	l.lastStages = html
	return l.s.send("stages", "", html)
}

// pushLog sends a chunk of the log, less what the client has and an
// incomplete character at its end; the event's id is the log offset
// sent up to.
func (l *liveExecution) pushLog(chunk []byte) error {
	start := l.offset
	l.offset += int64(len(chunk))
	if l.offset <= l.skip {
		return nil
	}
	if start < l.skip {
		chunk = chunk[l.skip-start:]
	}
	var text []byte
	text, l.pending = splitRunes(append(l.pending, chunk...))
	return l.s.send("log", strconv.FormatInt(l.offset-int64(len(l.pending)), 10),
		"<span>"+template.HTMLEscapeString(string(text))+"</span>")
}

// splitRunes splits b before an incomplete UTF-8 sequence at its end.
func splitRunes(b []byte) (whole, rest []byte) {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i], append([]byte(nil), b[i:]...)
			}
			break
		}
	}
	return b, nil
}

// executionOf returns the execution a pipeline event is about.
func executionOf(ev store.Event) string {
	var v struct {
		Execution json.RawMessage `json:"execution"`
	}
	if !strings.HasPrefix(ev.Type, "pipeline.") || json.Unmarshal(ev.Data, &v) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(v.Execution, &id) == nil {
		return id // pipeline.stage
	}
	var e struct {
		ID string `json:"id"`
	}
	json.Unmarshal(v.Execution, &e)
	return e.ID
}

// chanWriter hands what is written to it to a channel, for a stream
// written by one goroutine and sent by another.
type chanWriter struct {
	ctx context.Context
	ch  chan<- []byte
}

func (c *chanWriter) Write(p []byte) (int, error) {
	select {
	case c.ch <- append([]byte(nil), p...):
		return len(p), nil
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
