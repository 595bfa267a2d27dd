package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// Releaser lists an app's releases and deploys an earlier one again
// (`cutover releases`, `cutover rollback APP --to`); the Deployer given
// to New implements it when it can (internal/server does).
type Releaser interface {
	Releases(ctx context.Context, app string) (deploy.ReleaseList, error)
	RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error)
}

// RollbackToRequest asks for an earlier revision of the app to be
// deployed again: "3", "r3" or "<app>-r3".
type RollbackToRequest struct {
	To string `json:"to"`
}

func (h *Handler) releaser(w http.ResponseWriter) (Releaser, bool) {
	rl, ok := h.deployer.(Releaser)
	if !ok {
		problem(w, http.StatusNotImplemented, "this cutover keeps no releases")
	}
	return rl, ok
}

// listReleases answers the app's revisions, newest first, with their
// status and release, and the disk its release directories take.
func (h *Handler) listReleases(w http.ResponseWriter, r *http.Request) {
	rl, ok := h.releaser(w)
	if !ok {
		return
	}
	list, err := rl.Releases(r.Context(), r.PathValue("app"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// rollbackTo deploys an earlier revision of the app again and answers
// with the deployment, which the caller follows as any other.
func (h *Handler) rollbackTo(w http.ResponseWriter, r *http.Request) {
	rl, ok := h.releaser(w)
	if !ok {
		return
	}
	var req RollbackToRequest
	if !decode(w, r, &req) {
		return
	}
	if req.To == "" {
		problem(w, http.StatusBadRequest, `"to" is required: the revision to go back to (3, r3 or APP-r3), as GET /api/v1/apps/{app}/releases lists them`)
		return
	}
	d, err := rl.RollbackTo(r.Context(), r.PathValue("app"), req.To)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

// Releases lists an app's releases.
func (c *Client) Releases(ctx context.Context, app string) (deploy.ReleaseList, error) {
	var l deploy.ReleaseList
	err := c.do(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(app)+"/releases", nil, &l)
	return l, err
}

// RollbackTo deploys an earlier revision of an app again.
func (c *Client) RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error) {
	var d store.Deployment
	err := c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(app)+"/rollback", RollbackToRequest{To: revision}, &d)
	return d, err
}
