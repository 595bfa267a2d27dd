package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// The config vars page lists names to everyone, non-secret values to
// admin only, and secret values to no one.
func TestEnvPage(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.store.ChangeConfigVars(ctx, "hello", store.ScopeRun, []store.ConfigVar{
		{Name: "GREETING", Value: "plain-hej"}, {Name: "DB_PASSWORD", Value: "s3cret-db", Secret: true}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.store.ChangeConfigVars(ctx, "hello", store.ScopeBuild, []store.ConfigVar{{Name: "NPM_TOKEN", Value: "s3cret-npm", Secret: true}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		role      string
		plainSeen bool
	}{{store.RoleRead, false}, {store.RoleDeploy, false}, {store.RoleAdmin, true}} {
		c := f.browser(t)
		f.signIn(t, c, f.token(t, "who-"+tt.role, tt.role))
		resp, body := get(t, c, f.srv.URL, "/env")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s\n%s", tt.role, resp.Status, body)
		}
		for _, want := range []string{"GREETING", "DB_PASSWORD", "NPM_TOKEN", "builds"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q", tt.role, want)
			}
		}
		if strings.Contains(body, "s3cret") {
			t.Errorf("%s: the page shows a secret value", tt.role)
		}
		if got := strings.Contains(body, "plain-hej"); got != tt.plainSeen {
			t.Errorf("%s: plain value shown = %v, want %v", tt.role, got, tt.plainSeen)
		}
	}
}
