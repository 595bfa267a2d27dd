package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// Maintainer turns apps' maintenance mode on and off; the Deployer given
// to New implements it when it can (internal/server does).
type Maintainer interface {
	SetMaintenance(ctx context.Context, app, page string, retryAfter int) (store.Maintenance, error)
	ClearMaintenance(ctx context.Context, app string) error
}

// maintenanceActions are the maintenance buttons of an app.
var maintenanceActions = map[string]struct{ Label, Explain string }{
	"on": {"Start maintenance", "Production answers every request with 503 and cutover's default maintenance page " +
		"(Retry-After: 300) until you end it. Tasks keep running and being health-checked; deployments and the test listener go on. " +
		"For your own page, use cutover maintenance on APP --page FILE."},
	"off": {"End maintenance", "Production forwards to the app again at once, on the connections clients keep open."},
}

type maintenanceConfirm struct {
	App, Action    string
	Label, Explain string
	CSRF           string
}

// confirmMaintenance asks "are you sure?" before a maintenance button
// does anything.
func (h *Handler) confirmMaintenance(w http.ResponseWriter, r *http.Request) {
	app, action := r.PathValue("app"), r.PathValue("action")
	act, ok := maintenanceActions[action]
	if !ok {
		h.fail(w, r, store.ErrNotFound)
		return
	}
	if _, err := h.store.GetApp(r.Context(), app); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "maintenance", act.Label+" of "+app+"?", maintenanceConfirm{
		App: app, Action: action, Label: act.Label, Explain: act.Explain, CSRF: sessionOf(r.Context()).csrf,
	})
}

// doMaintenance presses a maintenance button. Turning it on while it is
// on keeps the page and Retry-After set with the CLI or API.
func (h *Handler) doMaintenance(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app, action := r.PathValue("app"), r.PathValue("action")
	m, ok := h.deployer.(Maintainer)
	if _, known := maintenanceActions[action]; !known || !ok {
		h.fail(w, r, store.ErrNotFound)
		return
	}
	cur, err := h.store.GetMaintenance(ctx, app)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case action == "off":
		err = m.ClearMaintenance(ctx, app)
	case cur.On:
		_, err = m.SetMaintenance(ctx, app, cur.Page, cur.RetryAfter)
	default:
		_, err = m.SetMaintenance(ctx, app, "", api.DefaultRetryAfter)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/?app="+url.QueryEscape(app), http.StatusSeeOther)
}
