package web

import (
	"context"
	"net/http"

	"github.com/cutover/cutover/internal/store"
)

// The notifications page: each app's newest webhook deliveries and
// their attempts, read-only. Callers without the admin role see a
// webhook's scheme and host only, as in the API.

// deliveriesPerApp bounds the deliveries shown per app.
const deliveriesPerApp = 20

type notificationsData struct {
	Apps []appDeliveries
}

type appDeliveries struct {
	App        string
	Deliveries []store.NotificationDelivery
}

func (h *Handler) notifications(w http.ResponseWriter, r *http.Request) {
	data, err := h.notificationsData(r.Context(), r.URL.Query().Get("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "notifications", "Notifications", data)
}

func (h *Handler) notificationsData(ctx context.Context, only string) (notificationsData, error) {
	apps, err := h.store.ListApps(ctx)
	if err != nil {
		return notificationsData{}, err
	}
	admin := false
	if sess := sessionOf(ctx); sess != nil {
		admin = sess.principal.Allows(store.RoleAdmin)
	}
	var data notificationsData
	for _, a := range apps {
		if only != "" && a.Name != only {
			continue
		}
		ds, err := h.store.NotificationDeliveries(ctx, a.Name, deliveriesPerApp)
		if err != nil {
			return notificationsData{}, err
		}
		for i := range ds {
			if !admin {
				ds[i].URL = store.HostOnlyURL(ds[i].URL)
			}
		}
		data.Apps = append(data.Apps, appDeliveries{App: a.Name, Deliveries: ds})
	}
	return data, nil
}
