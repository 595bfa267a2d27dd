package web

import (
	"context"
	"net/http"

	"github.com/cutover/cutover/internal/store"
)

// The config vars page: each app's config vars and build variables
// (`cutover env`), read-only. Every value is masked for all but admin,
// and a secret's also for admin: the page never shows a secret (the CLI
// and API reveal one to admin on request).

type envData struct {
	Apps []appEnv
}

type appEnv struct {
	App   string
	Run   []store.ConfigVar
	Build []store.ConfigVar
}

func (h *Handler) envPage(w http.ResponseWriter, r *http.Request) {
	data, err := h.envData(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "env", "Config vars", data)
}

func (h *Handler) envData(ctx context.Context) (envData, error) {
	apps, err := h.store.ListApps(ctx)
	if err != nil {
		return envData{}, err
	}
	admin := false
	if sess := sessionOf(ctx); sess != nil {
		admin = sess.principal.Allows(store.RoleAdmin)
	}
	var data envData
	for _, a := range apps {
		e := appEnv{App: a.Name}
		for _, scope := range []string{store.ScopeRun, store.ScopeBuild} {
			vars, err := h.store.ConfigVars(ctx, a.Name, scope)
			if err != nil {
				return envData{}, err
			}
			for i, v := range vars {
				if !admin || v.Secret {
					vars[i].Value = "***"
				}
			}
			if scope == store.ScopeRun {
				e.Run = vars
			} else {
				e.Build = vars
			}
		}
		data.Apps = append(data.Apps, e)
	}
	return data, nil
}
