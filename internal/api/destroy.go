package api

import (
	"context"
	"net/http"
	"net/url"
)

// destroyApp drains and stops the app's tasks, frees its listeners and
// hosts and deletes it; it answers 204 once all of that is done.
func (h *Handler) destroyApp(w http.ResponseWriter, r *http.Request) {
	if h.destroyer == nil {
		problem(w, http.StatusNotImplemented, "this server cannot destroy apps")
		return
	}
	if err := h.destroyer.Destroy(r.Context(), r.PathValue("app")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Destroyer takes an app out of service for good; server.Server
// implements it.
type Destroyer interface {
	Destroy(ctx context.Context, app string) error
}

// DestroyApp drains and stops the app's tasks and deletes the app.
func (c *Client) DestroyApp(ctx context.Context, app string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/apps/"+url.PathEscape(app), nil, nil)
}
