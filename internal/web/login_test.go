package web

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func TestLoginNextStaysOnSite(t *testing.T) {
	tests := []struct {
		next, want string
	}{
		{"/deployments/x", "/deployments/x"},
		{"/pipelines?app=web#top", "/pipelines?app=web#top"},
		{"/deployments/a%20b", "/deployments/a%20b"},
		{"", "/"},
		{"pipelines", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{`/\evil.example`, "/"},
		{`/a\b`, "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/\t/evil.example/x", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\nLocation: //evil.example", "/"},
		{"/\x00", "/"},
		{"/\x7f", "/"},
		{"/\u0085/evil.example", "/"},
		{"/%09/evil.example/x", "/"},
		{"/%2F/evil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%zz", "/"},
		{" /x", "/"},
	}
	for _, tt := range tests {
		if got := localPath(tt.next); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
}

// TestLoginRedirectStaysOnSite signs in through the form with next taken
// from the query string, as a link to /login would give it.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	f := newFixture(t)
	token := f.token(t, "alice", store.RoleRead)
	tests := []struct {
		query, want string
	}{
		{"/pipelines", "/pipelines"},
		{"/%09/evil.example/x", "/"},
		{"%2F%2Fevil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"https://evil.example", "/"},
		{"/%0d%0a/evil.example", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			c := f.browser(t)
			_, body := get(t, c, f.srv.URL, "/login?next="+tt.query)
			m := csrfRE.FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no CSRF field in the login form")
			}
			next, err := url.QueryUnescape(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := post(t, c, f.srv.URL, "/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {next}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %s", resp.Status)
			}
			if loc := resp.Header.Get("Location"); loc != tt.want {
				t.Errorf("next=%s sent the browser to %q, want %q", tt.query, loc, tt.want)
			}
		})
	}
}
