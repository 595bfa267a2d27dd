package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Notifications (package notify): an app's webhooks, from its
// cutover.yaml and added here, and their deliveries. Adding and removing
// needs the deploy role, as deploying a cutover.yaml with notifications
// does. Only admin sees a webhook's whole URL (a Slack URL is a
// credential); other roles see its scheme and host. Nobody reads a
// secret back.

// maxHooksPerApp bounds the webhooks added to one app.
const maxHooksPerApp = 20

// NotificationRequest adds a webhook to an app.
type NotificationRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events,omitempty"` // empty: every event
	Secret string   `json:"secret,omitempty"` // signs the bodies; kept sealed
}

// Webhook is one of an app's webhooks.
type Webhook struct {
	ID        string    `json:"id"`     // "<app>-n<number>", or "cutover.yaml#<n>"
	Source    string    `json:"source"` // "api" or "cutover.yaml"
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	HasSecret bool      `json:"has_secret"`
	SecretEnv string    `json:"secret_env,omitempty"` // cutover.yaml's: the variable of cutover's environment
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// WebhooksAnswer lists an app's webhooks.
type WebhooksAnswer struct {
	App      string    `json:"app"`
	Webhooks []Webhook `json:"webhooks"`
}

func (h *Handler) listNotifications(w http.ResponseWriter, r *http.Request) {
	ans, err := h.webhooks(r.Context(), r.PathValue("app"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (h *Handler) webhooks(ctx context.Context, app string) (WebhooksAnswer, error) {
	a, err := h.store.GetApp(ctx, app)
	if err != nil {
		return WebhooksAnswer{}, err
	}
	ans := WebhooksAnswer{App: app, Webhooks: []Webhook{}}
	var cfg config.App
	if len(a.Spec) > 0 {
		_ = json.Unmarshal(a.Spec, &cfg) // an app registered without a configuration has none
	}
	for i, n := range cfg.Notifications {
		ans.Webhooks = append(ans.Webhooks, Webhook{ID: "cutover.yaml#" + strconv.Itoa(i+1), Source: "cutover.yaml",
			URL: n.URL, Events: nonNil(n.Events), HasSecret: n.SecretEnv != "", SecretEnv: n.SecretEnv})
	}
	hooks, err := h.store.NotificationHooks(ctx, app)
	if err != nil {
		return WebhooksAnswer{}, err
	}
	for _, hk := range hooks {
		ans.Webhooks = append(ans.Webhooks, Webhook{ID: hk.ID, Source: "api", URL: hk.URL, Events: nonNil(hk.Events),
			HasSecret: hk.HasSecret, CreatedAt: hk.CreatedAt})
	}
	if !isAdmin(ctx) {
		for i := range ans.Webhooks {
			ans.Webhooks[i].URL = store.HostOnlyURL(ans.Webhooks[i].URL)
		}
	}
	return ans, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) addNotification(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	var req NotificationRequest
	if !decode(w, r, &req) {
		return
	}
	if err := checkNotificationRequest(req); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := h.store.GetApp(ctx, app); err != nil {
		h.fail(w, err)
		return
	}
	hooks, err := h.store.NotificationHooks(ctx, app)
	if err != nil {
		h.fail(w, err)
		return
	}
	if len(hooks) >= maxHooksPerApp {
		problem(w, http.StatusConflict, fmt.Sprintf("%s has %d webhooks, the most an app may have; remove one first", app, len(hooks)))
		return
	}
	hk, err := h.store.AddNotificationHook(ctx, store.NotificationHook{App: app, URL: req.URL, Events: req.Events, Secret: req.Secret})
	if err != nil {
		h.fail(w, err)
		return
	}
	if !isAdmin(ctx) {
		hk.URL = store.HostOnlyURL(hk.URL)
	}
	writeJSON(w, http.StatusCreated, Webhook{ID: hk.ID, Source: "api", URL: hk.URL, Events: nonNil(hk.Events),
		HasSecret: hk.HasSecret, CreatedAt: hk.CreatedAt})
}

// checkNotificationRequest says what is wrong with req, nil when nothing.
func checkNotificationRequest(req NotificationRequest) error {
	if req.URL == "" {
		return fmt.Errorf("url: missing; give the webhook's http or https URL")
	}
	if err := config.CheckNotificationURL(req.URL); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	for i, e := range req.Events {
		if err := config.CheckNotificationEvent(e); err != nil {
			return fmt.Errorf("events[%d]: %w", i, err)
		}
	}
	if len(req.Secret) > 1024 {
		return fmt.Errorf("secret: longer than 1024 bytes")
	}
	return nil
}

// removeNotification removes the webhook whose ID or URL {hook} is.
func (h *Handler) removeNotification(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	hk, err := h.store.RemoveNotificationHook(ctx, r.PathValue("app"), r.PathValue("hook"))
	if err != nil {
		h.fail(w, err)
		return
	}
	if !isAdmin(ctx) {
		hk.URL = store.HostOnlyURL(hk.URL)
	}
	writeJSON(w, http.StatusOK, Webhook{ID: hk.ID, Source: "api", URL: hk.URL, Events: nonNil(hk.Events)})
}

// listDeliveries answers the app's newest deliveries with their attempts.
func (h *Handler) listDeliveries(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			problem(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		limit = n
	}
	if _, err := h.store.GetApp(ctx, app); err != nil {
		h.fail(w, err)
		return
	}
	ds, err := h.store.NotificationDeliveries(ctx, app, limit)
	if err != nil {
		h.fail(w, err)
		return
	}
	if !isAdmin(ctx) {
		for i := range ds {
			ds[i].URL = store.HostOnlyURL(ds[i].URL)
		}
	}
	writeJSON(w, http.StatusOK, ds)
}

// Notifications returns an app's webhooks.
func (c *Client) Notifications(ctx context.Context, app string) (WebhooksAnswer, error) {
	var ans WebhooksAnswer
	err := c.do(ctx, "GET", "/api/v1/apps/"+url.PathEscape(app)+"/notifications", nil, &ans)
	return ans, err
}

// AddNotification adds a webhook to an app.
func (c *Client) AddNotification(ctx context.Context, app string, req NotificationRequest) (Webhook, error) {
	var hk Webhook
	err := c.do(ctx, "POST", "/api/v1/apps/"+url.PathEscape(app)+"/notifications", req, &hk)
	return hk, err
}

// RemoveNotification removes an app's webhook by its ID or URL.
func (c *Client) RemoveNotification(ctx context.Context, app, hook string) (Webhook, error) {
	var hk Webhook
	err := c.do(ctx, "DELETE", "/api/v1/apps/"+url.PathEscape(app)+"/notifications/"+url.PathEscape(hook), nil, &hk)
	return hk, err
}

// NotificationDeliveries returns an app's newest deliveries.
func (c *Client) NotificationDeliveries(ctx context.Context, app string, limit int) ([]store.NotificationDelivery, error) {
	var ds []store.NotificationDelivery
	path := "/api/v1/apps/" + url.PathEscape(app) + "/notifications/deliveries?limit=" + strconv.Itoa(limit)
	err := c.do(ctx, "GET", path, nil, &ds)
	return ds, err
}
