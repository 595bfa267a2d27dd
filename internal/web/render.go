package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Page templates: each file in templates/ but layout.html is a page
// rendered inside layout.html; fragments a live stream re-renders are
// {{define}}d blocks of a page.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		t := template.New(base).Funcs(funcs)
		pages[base] = template.Must(t.ParseFS(templateFS, "templates/layout.html", name))
	}
	return pages
}

var funcs = template.FuncMap{
	"ago":   ago,
	"clock": func(t time.Time) string { return formatClock(t) },
	"took":  took,
	"lower": strings.ToLower,
	"shortCommit": func(c string) string {
		if len(c) > 8 {
			return c[:8]
		}
		return c
	},
}

// layoutData is what layout.html sees; Data is the page's own.
type layoutData struct {
	Title     string
	Actor     string
	Role      string
	CSRF      string
	CanDeploy bool
	Data      any
}

// csrfField is the name of every POST form's CSRF token field.
const csrfField = "csrf"

// render writes page name in the layout.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	ld := layoutData{Title: title, Data: data}
	if sess := sessionOf(r.Context()); sess != nil {
		ld.Actor, ld.Role, ld.CSRF = sess.principal.Actor, sess.principal.Role, sess.csrf
		ld.CanDeploy = sess.principal.Allows("deploy")
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", ld); err != nil {
		h.log.Error("rendering a page", "page", name, "error", err)
		http.Error(w, "rendering "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fragment renders the block name of page into a string, for a live
// update.
func (h *Handler) fragment(page, name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("rendering %s of %s: %w", name, page, err)
	}
	return buf.String(), nil
}

func formatClock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("15:04:05")
}

// formatDuration rounds d for people: 850ms, 12.3s, 4m05s.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Minute).String()
}

// took is how long a step from start to end took, "" unless it has
// both (a skipped step has no start).
func took(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return ""
	}
	return formatDuration(end.Sub(start))
}

// ago says how long before now t was, coarsely.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}
