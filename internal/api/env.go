package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// EnvChanger changes an app's config vars (`cutover env`); the Deployer
// given to New implements it when it can (internal/server does).
type EnvChanger interface {
	ChangeEnv(ctx context.Context, app string, ch deploy.EnvChange) (store.Deployment, error)
}

// EnvVar is one config var to set.
type EnvVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Secret bool   `json:"secret,omitempty"`
}

// EnvRequest sets and unsets config vars of one scope in one change.
type EnvRequest struct {
	Scope    string   `json:"scope,omitempty"` // "run" (default) or "build"
	Set      []EnvVar `json:"set,omitempty"`
	Unset    []string `json:"unset,omitempty"`
	NoDeploy bool     `json:"no_deploy,omitempty"` // store only; the next deployment takes it
}

// EnvAnswer is an app's config vars of one scope, values masked as the
// caller may see them, and the deployment that releases a change.
type EnvAnswer struct {
	App        string            `json:"app"`
	Scope      string            `json:"scope"`
	Vars       []store.ConfigVar `json:"vars"`
	Deployment *store.Deployment `json:"deployment,omitempty"`
}

// listEnv answers the app's config vars. Only admin reads values, and
// secret values only when asking with reveal=true.
func (h *Handler) listEnv(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	reveal, err := strconv.ParseBool(r.URL.Query().Get("reveal"))
	if r.URL.Query().Get("reveal") == "" {
		reveal, err = false, nil
	}
	if err != nil {
		problem(w, http.StatusBadRequest, "reveal: give true or false")
		return
	}
	if reveal && !isAdmin(ctx) {
		problem(w, http.StatusForbidden, "reveal: only the admin role reads secret values")
		return
	}
	answer, err := h.envAnswer(ctx, r.PathValue("app"), r.URL.Query().Get("scope"), reveal)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// changeEnv sets and unsets config vars; a change of the tasks' vars is
// released as a new deployment, which the answer carries.
func (h *Handler) changeEnv(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	ec, ok := h.deployer.(EnvChanger)
	if !ok {
		problem(w, http.StatusNotImplemented, "this cutover does not keep config vars")
		return
	}
	var req EnvRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Scope == "" {
		req.Scope = store.ScopeRun
	}
	ch := deploy.EnvChange{Scope: req.Scope, Unset: req.Unset, NoDeploy: req.NoDeploy}
	for _, v := range req.Set {
		ch.Set = append(ch.Set, store.ConfigVar{Name: v.Name, Value: v.Value, Secret: v.Secret})
	}
	d, err := ec.ChangeEnv(ctx, app, ch)
	if err != nil {
		h.fail(w, err)
		return
	}
	answer, err := h.envAnswer(ctx, app, req.Scope, false)
	if err != nil {
		h.fail(w, err)
		return
	}
	if d.ID != "" {
		answer.Deployment = &d
	}
	writeJSON(w, http.StatusOK, answer)
}

// envAnswer reads the app's vars of scope ("" is run) and masks them:
// every value for all but admin, a secret's for admin unless reveal.
func (h *Handler) envAnswer(ctx context.Context, app, scope string, reveal bool) (EnvAnswer, error) {
	if scope == "" {
		scope = store.ScopeRun
	}
	vars, err := h.store.ConfigVars(ctx, app, scope)
	if err != nil {
		return EnvAnswer{}, err
	}
	admin := isAdmin(ctx)
	for i, v := range vars {
		if !admin || (v.Secret && !reveal) {
			vars[i].Value = masked
		}
	}
	if vars == nil {
		vars = []store.ConfigVar{}
	}
	return EnvAnswer{App: app, Scope: scope, Vars: vars}, nil
}

func isAdmin(ctx context.Context) bool {
	p, ok := auth.FromContext(ctx)
	return ok && p.Allows(store.RoleAdmin)
}

// Env returns an app's config vars of scope ("run" or "build"); reveal
// asks for secret values (admin only).
func (c *Client) Env(ctx context.Context, app, scope string, reveal bool) (EnvAnswer, error) {
	q := url.Values{}
	if scope != "" {
		q.Set("scope", scope)
	}
	if reveal {
		q.Set("reveal", "true")
	}
	path := "/api/v1/apps/" + url.PathEscape(app) + "/env"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var a EnvAnswer
	err := c.do(ctx, http.MethodGet, path, nil, &a)
	return a, err
}

// ChangeEnv sets and unsets an app's config vars.
func (c *Client) ChangeEnv(ctx context.Context, app string, req EnvRequest) (EnvAnswer, error) {
	var a EnvAnswer
	err := c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(app)+"/env", req, &a)
	return a, err
}
