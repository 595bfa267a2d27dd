package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func (d *scriptedDeployer) SetMaintenance(ctx context.Context, app, page string, retryAfter int) (store.Maintenance, error) {
	d.calls.Add(1)
	if d.err != nil {
		return store.Maintenance{}, d.err
	}
	return d.st.SetMaintenance(ctx, app, page, retryAfter)
}

func (d *scriptedDeployer) ClearMaintenance(ctx context.Context, app string) error {
	d.calls.Add(1)
	if d.err != nil {
		return d.err
	}
	return d.st.ClearMaintenance(ctx, app)
}

// TestMaintenanceRoutes turns maintenance on with the defaults and with a
// page, reads it back without the page, and off; malformed and oversized
// requests are refused before the Deployer is called.
func TestMaintenanceRoutes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.local

	a, err := c.SetMaintenance(ctx, "hello", MaintenanceRequest{})
	if err != nil || !a.On || a.RetryAfter != DefaultRetryAfter || !a.DefaultPage || a.Since.IsZero() {
		t.Fatalf("on with the defaults: %+v, %v", a, err)
	}
	retry := 60
	if a, err = c.SetMaintenance(ctx, "hello", MaintenanceRequest{Page: "<h1>soon</h1>", RetryAfter: &retry}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Maintenance(ctx, "hello")
	if err != nil || got != a || !got.On || got.RetryAfter != 60 || got.PageBytes != 13 || got.DefaultPage {
		t.Errorf("GET: %+v, %v; want on, 60s, a 13-byte page, as POST answered %+v", got, err, a)
	}
	if app, err := c.App(ctx, "hello"); err != nil || app.Maintenance == nil || *app.Maintenance != a {
		t.Errorf("GET the app: maintenance %+v, %v; want %+v", app.Maintenance, err, a)
	}
	if _, err := c.Maintenance(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown app: %v, want not found", err)
	}

	calls := f.d.calls.Load()
	for _, bad := range []struct {
		body string
		want int
	}{
		{`{"page": 3}`, http.StatusBadRequest},
		{`{"retry": 60}`, http.StatusBadRequest},
		{`{"page": "` + strings.Repeat("x", maxMaintenanceRequest) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.remote+"/api/v1/apps/hello/maintenance", strings.NewReader(bad.body))
		req.Header.Set("Authorization", "Bearer "+f.secrets["deployer"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status := resp.StatusCode
		if status != bad.want {
			t.Errorf("%.40s: %d, want %d", bad.body, status, bad.want)
		}
	}
	if n := f.d.calls.Load(); n != calls {
		t.Errorf("refused requests called the Deployer %d times", n-calls)
	}
	if got, _ := c.Maintenance(ctx, "hello"); got != a {
		t.Errorf("after refused requests: %+v, want %+v", got, a)
	}

	off, err := c.ClearMaintenance(ctx, "hello")
	if err != nil || off.On {
		t.Fatalf("off: %+v, %v", off, err)
	}
	if got, _ := c.Maintenance(ctx, "hello"); got.On {
		t.Errorf("after DELETE: %+v, want off", got)
	}
	if app, err := c.App(ctx, "hello"); err != nil || app.Maintenance != nil {
		t.Errorf("GET the app after DELETE: maintenance %+v, %v; want none", app.Maintenance, err)
	}
}
