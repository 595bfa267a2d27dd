package web

import (
	"context"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/applog"
	"github.com/cutover/cutover/internal/store"
)

// appLogTail is how many lines of the past an app's page starts with.
const appLogTail = 200

// appView is what an app's page shows.
type appView struct {
	App     store.App
	Tasks   []store.Task // not stopped
	HasLogs bool
	// Releases is the app's release list (releases.go); nil: none kept.
	Releases *releasesView
	// Preview is set when the app is a preview app; Previews are the
	// app's own preview apps (previews.go).
	Preview  *store.Preview
	Previews []store.Preview
}

// appPage shows an app: its tasks and, live, their merged output.
func (h *Handler) appPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := h.store.GetApp(ctx, r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tasks, err := h.store.ListTasks(ctx, store.TaskFilter{App: a.Name, Live: true})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	view := appView{App: a, Tasks: tasks, HasLogs: h.logs != nil, Releases: h.releasesOf(ctx, a.Name)}
	if err := h.previewsOf(ctx, &view); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "app", "App "+a.Name, view)
}

// appLogsLive streams the app's merged output as "log" events of HTML
// lines: the last appLogTail lines, then new ones as its tasks write
// them, those of tasks started later too. A reconnecting browser sends
// the time of the last line it has as Last-Event-ID and gets what came
// after it.
func (h *Handler) appLogsLive(w http.ResponseWriter, r *http.Request) {
	if h.logs == nil {
		http.Error(w, "this cutover serves no task logs", http.StatusNotImplemented)
		return
	}
	opts := applog.Options{Tail: appLogTail, Follow: true}
	if last, err := time.Parse(time.RFC3339Nano, r.Header.Get("Last-Event-ID")); err == nil {
		opts.Tail, opts.Since = -1, last.Add(time.Nanosecond)
	}
	app := r.PathValue("app")
	if _, err := h.store.GetApp(r.Context(), app); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-h.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	s, err := startSSE(w)
	if err != nil {
		return
	}
	err = applog.New(h.store, h.logs).Stream(ctx, app, opts, func(lines []applog.Line) error {
		id := ""
		if t := lines[len(lines)-1].Time; !t.IsZero() {
			id = t.UTC().Format(time.RFC3339Nano)
		}
		return s.send("log", id, logHTML(lines))
	})
	if err != nil && ctx.Err() == nil {
		h.log.Debug("live app logs ended", "app", app, "error", err)
	}
}

// logHTML renders lines as the log panel shows them: the task, the
// stream (err in red) and the text, escaped.
func logHTML(lines []applog.Line) string {
	var b strings.Builder
	for _, l := range lines {
		stream := "out"
		if l.Stream == "stderr" {
			stream = "err"
		}
		b.WriteString(`<span class="line line-` + stream + `" data-task="` + template.HTMLEscapeString(l.Task) + `">`)
		b.WriteString(`<span class="task">` + template.HTMLEscapeString(l.Task) + `</span> `)
		b.WriteString(`<span class="stream">` + stream + `</span> | `)
		b.WriteString(template.HTMLEscapeString(l.Text))
		b.WriteString("</span>\n")
	}
	return b.String()
}
