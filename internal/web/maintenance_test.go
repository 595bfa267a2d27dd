package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func (d *recordingDeployer) SetMaintenance(_ context.Context, app, page string, retryAfter int) (store.Maintenance, error) {
	return store.Maintenance{On: true}, d.record("maintenance on "+strconv.Itoa(len(page))+" "+strconv.Itoa(retryAfter), app)
}

func (d *recordingDeployer) ClearMaintenance(_ context.Context, app string) error {
	return d.record("maintenance off", app)
}

// TestMaintenanceButtons: the overview shows whether production is in
// maintenance; a deployer turns it on and off through a confirmation
// and a POST with the CSRF token; a reader sees no button and is refused.
func TestMaintenanceButtons(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	csrf := f.signIn(t, c, f.token(t, "dora", store.RoleDeploy))

	_, body := get(t, c, f.srv.URL, "/")
	if !strings.Contains(body, "serving") || !strings.Contains(body, `id="maintenance-on-hello"`) {
		t.Errorf("overview of an app out of maintenance lacks its state or button:\n%s", body)
	}
	resp, body := get(t, c, f.srv.URL, "/apps/hello/maintenance/confirm/on")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/apps/hello/maintenance/on"`) {
		t.Errorf("confirmation: %s\n%s", resp.Status, body)
	}
	for _, path := range []string{"/apps/nope/maintenance/confirm/on", "/apps/hello/maintenance/confirm/sideways"} {
		if resp, _ := get(t, c, f.srv.URL, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	if resp, _ := post(t, c, f.srv.URL, "/apps/hello/maintenance/on", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a forged CSRF token: %s, want 403", resp.Status)
	}
	if calls := f.deployer.Calls(); len(calls) != 0 {
		t.Fatalf("a refused POST pressed %v", calls)
	}
	if resp, _ := post(t, c, f.srv.URL, "/apps/hello/maintenance/on", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST on: %s, want 303", resp.Status)
	}

	// On, with a page set from the CLI: the overview says so, and the
	// button ends it; pressing on again keeps the page.
	if _, err := f.store.SetMaintenance(t.Context(), "hello", "<h1>down</h1>", 60); err != nil {
		t.Fatal(err)
	}
	_, body = get(t, c, f.srv.URL, "/")
	if !strings.Contains(body, ">maintenance<") || !strings.Contains(body, `id="maintenance-off-hello"`) {
		t.Errorf("overview of an app in maintenance lacks its state or button:\n%s", body)
	}
	post(t, c, f.srv.URL, "/apps/hello/maintenance/on", url.Values{"csrf": {csrf}})
	post(t, c, f.srv.URL, "/apps/hello/maintenance/off", url.Values{"csrf": {csrf}})
	want := []string{"maintenance on 0 300 hello", "maintenance on 13 60 hello", "maintenance off hello"}
	if got := f.deployer.Calls(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("calls %q, want %q", got, want)
	}

	rc := f.browser(t)
	rcsrf := f.signIn(t, rc, f.token(t, "rita", store.RoleRead))
	if _, body := get(t, rc, f.srv.URL, "/"); strings.Contains(body, `id="maintenance-`) {
		t.Error("a reader's overview has a maintenance button")
	}
	if resp, _ := get(t, rc, f.srv.URL, "/apps/hello/maintenance/confirm/off"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's confirmation: %s, want 403", resp.Status)
	}
	if resp, _ := post(t, rc, f.srv.URL, "/apps/hello/maintenance/off", url.Values{"csrf": {rcsrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's POST: %s, want 403", resp.Status)
	}
	if n := len(f.deployer.Calls()); n != 3 {
		t.Errorf("a reader pressed a button: %d calls", n)
	}
}
