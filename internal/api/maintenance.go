package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Maintainer turns apps' maintenance mode on and off; the Deployer given
// to New implements it when it can (internal/server does).
type Maintainer interface {
	SetMaintenance(ctx context.Context, app, page string, retryAfter int) (store.Maintenance, error)
	ClearMaintenance(ctx context.Context, app string) error
}

// DefaultRetryAfter is the Retry-After of a maintenance request that
// gives none, in seconds.
const DefaultRetryAfter = 300

// MaintenanceRequest turns maintenance mode on. Page is HTML (at most
// 1 MiB); empty for cutover's plain default page. RetryAfter is in
// seconds, 1-86400; nil for DefaultRetryAfter.
type MaintenanceRequest struct {
	Page       string `json:"page,omitempty"`
	RetryAfter *int   `json:"retry_after,omitempty"`
}

// MaintenanceAnswer is an app's maintenance mode. The page itself is
// not repeated, only its size.
type MaintenanceAnswer struct {
	App         string    `json:"app"`
	On          bool      `json:"on"`
	RetryAfter  int       `json:"retry_after,omitempty"`
	Since       time.Time `json:"since,omitzero"`
	PageBytes   int       `json:"page_bytes,omitempty"`
	DefaultPage bool      `json:"default_page,omitempty"`
}

func maintenanceAnswer(app string, m store.Maintenance) MaintenanceAnswer {
	return MaintenanceAnswer{
		App: app, On: m.On, RetryAfter: m.RetryAfter, Since: m.Since,
		PageBytes: len(m.Page), DefaultPage: m.On && m.Page == "",
	}
}

// maxMaintenanceRequest bounds the request body: a 1 MiB page takes up to
// six times that once JSON escapes it.
const maxMaintenanceRequest = 8 << 20

// getMaintenance answers the app's maintenance mode.
func (h *Handler) getMaintenance(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	m, err := h.store.GetMaintenance(r.Context(), app)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, maintenanceAnswer(app, m))
}

// setMaintenance turns maintenance mode on, or changes its page or
// Retry-After.
func (h *Handler) setMaintenance(w http.ResponseWriter, r *http.Request) {
	m, ok := h.deployer.(Maintainer)
	if !ok {
		problem(w, http.StatusNotImplemented, "this server has no maintenance mode")
		return
	}
	req, ok := decodeMaintenance(w, r)
	if !ok {
		return
	}
	retryAfter := DefaultRetryAfter
	if req.RetryAfter != nil {
		retryAfter = *req.RetryAfter
	}
	app := r.PathValue("app")
	got, err := m.SetMaintenance(r.Context(), app, req.Page, retryAfter)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, maintenanceAnswer(app, got))
}

// decodeMaintenance reads a MaintenanceRequest; an empty body asks for
// the defaults.
func decodeMaintenance(w http.ResponseWriter, r *http.Request) (MaintenanceRequest, bool) {
	var req MaintenanceRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMaintenanceRequest))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		problem(w, http.StatusRequestEntityTooLarge, "page: the request is over 8 MiB; valid: a page of at most 1 MiB")
		return req, false
	case err != nil:
		problem(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return req, false
	case len(bytes.TrimSpace(body)) == 0:
		return req, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		problem(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return req, false
	}
	return req, true
}

// clearMaintenance turns maintenance mode off.
func (h *Handler) clearMaintenance(w http.ResponseWriter, r *http.Request) {
	m, ok := h.deployer.(Maintainer)
	if !ok {
		problem(w, http.StatusNotImplemented, "this server has no maintenance mode")
		return
	}
	app := r.PathValue("app")
	if err := m.ClearMaintenance(r.Context(), app); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, MaintenanceAnswer{App: app})
}

// Maintenance returns an app's maintenance mode.
func (c *Client) Maintenance(ctx context.Context, app string) (MaintenanceAnswer, error) {
	var a MaintenanceAnswer
	err := c.do(ctx, http.MethodGet, maintenancePath(app), nil, &a)
	return a, err
}

// SetMaintenance turns an app's maintenance mode on.
func (c *Client) SetMaintenance(ctx context.Context, app string, req MaintenanceRequest) (MaintenanceAnswer, error) {
	var a MaintenanceAnswer
	err := c.do(ctx, http.MethodPost, maintenancePath(app), req, &a)
	return a, err
}

// ClearMaintenance turns an app's maintenance mode off.
func (c *Client) ClearMaintenance(ctx context.Context, app string) (MaintenanceAnswer, error) {
	var a MaintenanceAnswer
	err := c.do(ctx, http.MethodDelete, maintenancePath(app), nil, &a)
	return a, err
}

func maintenancePath(app string) string {
	return "/api/v1/apps/" + url.PathEscape(app) + "/maintenance"
}
