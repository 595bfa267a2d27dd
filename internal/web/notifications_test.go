package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func TestNotificationsPage(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ds, err := f.store.QueueNotifications(ctx, 1, []store.NotificationDelivery{{
		App: "hello", Hook: "hello-n1", URL: "https://hooks.example.com/T1/B2/XYZ", Event: "deployment.failed",
		Subject: f.dep.ID, Body: json.RawMessage(`{}`), Secret: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordNotificationAttempt(ctx, ds[0].ID, store.NotificationAttempt{StatusCode: 503, Error: "503 Service Unavailable"},
		store.DeliveryPending, ds[0].CreatedAt.Add(10e9)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ role, url, hidden string }{
		{store.RoleRead, "https://hooks.example.com/…", "T1/B2/XYZ"},
		{store.RoleAdmin, "https://hooks.example.com/T1/B2/XYZ", "s3cret"},
	} {
		c := f.browser(t)
		f.signIn(t, c, f.token(t, "who-"+tt.role, tt.role))
		resp, body := get(t, c, f.srv.URL, "/notifications")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s\n%s", tt.role, resp.Status, body)
		}
		for _, want := range []string{"deployment.failed", f.dep.ID, tt.url, "#1 503", "pending"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q", tt.role, want)
			}
		}
		if strings.Contains(body, tt.hidden) || strings.Contains(body, "s3cret") {
			t.Errorf("%s: the page shows %q", tt.role, tt.hidden)
		}
	}
}
