package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/store"
)

// recordingDeployer stands in for the deployment controller in the
// handler tests: it records which buttons were pressed. The browser
// test drives the real controller.
type recordingDeployer struct {
	mu    sync.Mutex
	calls []string
}

func (d *recordingDeployer) record(action, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, action+" "+id)
	return nil
}

func (d *recordingDeployer) Continue(_ context.Context, id string) error {
	return d.record("continue", id)
}
func (d *recordingDeployer) Stop(_ context.Context, id string) error { return d.record("stop", id) }
func (d *recordingDeployer) Rollback(_ context.Context, id string) error {
	return d.record("rollback", id)
}

func (d *recordingDeployer) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

type fixture struct {
	store    *store.Store
	deployer *recordingDeployer
	srv      *httptest.Server
	dep      store.Deployment
}

// newFixture serves a dashboard on a store with one app in the middle
// of a blue/green deployment: 25% of production on the new revision.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutApp(ctx, store.App{Name: "hello", DesiredCount: 2}); err != nil {
		t.Fatal(err)
	}
	r1, err := st.CreateRevision(ctx, store.Revision{App: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := st.CreateRevision(ctx, store.Revision{App: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateDeployment(ctx, store.Deployment{
		App: "hello", FromRevision: r1.ID, ToRevision: r2.ID, Strategy: "blue_green",
		Config: json.RawMessage(`{"blue":"blue","green":"green"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordWeights(ctx, d.ID, "production", map[string]int{"blue": 75, "green": 25}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, deployer: &recordingDeployer{}, dep: d}
	h := New(Options{Store: st, Deployer: f.deployer})
	t.Cleanup(h.CloseStreams)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// token creates an API token with role.
func (f *fixture) token(t *testing.T, name, role string) string {
	t.Helper()
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateToken(t.Context(), store.Token{Name: name, Role: role, Hash: auth.Hash(tok)}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// browser is an HTTP client with cookies that does not follow redirects.
func (f *fixture) browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get returns the status and body of GET path.
func get(t *testing.T, c *http.Client, base, path string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, base, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn signs c in with token and returns the session's CSRF token.
func (f *fixture) signIn(t *testing.T, c *http.Client, token string) string {
	t.Helper()
	_, body := get(t, c, f.srv.URL, "/login")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the login form has no CSRF field:\n%s", body)
	}
	resp, _ := post(t, c, f.srv.URL, "/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s", resp.Status)
	}
	_, body = get(t, c, f.srv.URL, "/")
	m = csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("a signed-in page has no CSRF field:\n%s", body)
	}
	return m[1]
}

func TestWithoutSession(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	tests := []struct {
		method, path string
		accept       string
		want         int
		location     string
	}{
		{"GET", "/", "", http.StatusSeeOther, "/login?next=%2F"},
		{"GET", "/deployments/" + f.dep.ID, "", http.StatusSeeOther, "/login?next=%2Fdeployments%2F" + f.dep.ID},
		{"GET", "/pipelines", "", http.StatusSeeOther, "/login?next=%2Fpipelines"},
		{"GET", "/deployments/" + f.dep.ID + "/live", "text/event-stream", http.StatusUnauthorized, ""},
		{"POST", "/deployments/" + f.dep.ID + "/rollback", "", http.StatusUnauthorized, ""},
		{"GET", "/login", "", http.StatusOK, ""},
		{"GET", "/static/htmx.min.js", "", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %s, want %d", resp.Status, tt.want)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
		})
	}
	if calls := f.deployer.Calls(); len(calls) > 0 {
		t.Errorf("buttons pressed without a session: %v", calls)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	good := f.token(t, "alice", store.RoleRead)
	revoked := f.token(t, "bob", store.RoleRead)
	if _, err := f.store.RevokeToken(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		token     string
		csrf      func(form string) string
		want      int
		signedIn  bool
		wantError string
	}{
		{"valid", good, func(s string) string { return s }, http.StatusSeeOther, true, ""},
		{"unknown token", "cot_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", func(s string) string { return s }, http.StatusUnauthorized, false, "not valid"},
		{"revoked token", revoked, func(s string) string { return s }, http.StatusUnauthorized, false, "not valid"},
		{"no CSRF token", good, func(string) string { return "" }, http.StatusForbidden, false, "expired"},
		{"wrong CSRF token", good, func(string) string { return "forged" }, http.StatusForbidden, false, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.browser(t)
			_, body := get(t, c, f.srv.URL, "/login?next=/pipelines")
			m := csrfRE.FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no CSRF field in the login form")
			}
			resp, body := post(t, c, f.srv.URL, "/login", url.Values{"csrf": {tt.csrf(m[1])}, "token": {tt.token}, "next": {"/pipelines"}})
			if resp.StatusCode != tt.want {
				t.Fatalf("status %s, want %d", resp.Status, tt.want)
			}
			if tt.wantError != "" && !strings.Contains(body, tt.wantError) {
				t.Errorf("the page does not say %q:\n%s", tt.wantError, body)
			}
			var sess *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie && ck.Value != "" {
					sess = ck
				}
			}
			if (sess != nil) != tt.signedIn {
				t.Fatalf("session cookie %v, want one: %v", sess, tt.signedIn)
			}
			if !tt.signedIn {
				return
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Secure {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v Secure=%v; want HttpOnly, Strict, not Secure over plain HTTP", sess.HttpOnly, sess.SameSite, sess.Secure)
			}
			if loc := resp.Header.Get("Location"); loc != "/pipelines" {
				t.Errorf("sent to %q, want /pipelines", loc)
			}
			resp, body = get(t, c, f.srv.URL, "/")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "token:alice") {
				t.Errorf("signed-in overview: %s, names alice: %v", resp.Status, strings.Contains(body, "token:alice"))
			}
		})
	}
}

func TestButtonsNeedCSRFAndRole(t *testing.T) {
	f := newFixture(t)
	deployer := f.token(t, "dora", store.RoleDeploy)
	reader := f.token(t, "rita", store.RoleRead)
	path := "/deployments/" + f.dep.ID + "/rollback"

	c := f.browser(t)
	csrf := f.signIn(t, c, deployer)
	for _, bad := range []string{"", "forged"} {
		resp, _ := post(t, c, f.srv.URL, path, url.Values{"csrf": {bad}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with CSRF token %q: %s, want 403", bad, resp.Status)
		}
	}
	if calls := f.deployer.Calls(); len(calls) > 0 {
		t.Fatalf("a POST without the CSRF token pressed %v", calls)
	}
	resp, _ := post(t, c, f.srv.URL, path, url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST with the CSRF token: %s", resp.Status)
	}
	if calls := f.deployer.Calls(); len(calls) != 1 || calls[0] != "rollback "+f.dep.ID {
		t.Fatalf("calls %v, want one rollback", calls)
	}
	evs, err := f.store.Events(t.Context(), store.EventFilter{Deployment: f.dep.ID, Types: []string{"deployment.action"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != "token:dora" {
		t.Errorf("action events %+v, want one by token:dora", evs)
	}

	rc := f.browser(t)
	rcsrf := f.signIn(t, rc, reader)
	resp, body := get(t, rc, f.srv.URL, "/deployments/"+f.dep.ID)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `id="rollback"`) {
		t.Errorf("a reader's deployment page: %s, has a rollback button: %v", resp.Status, strings.Contains(body, `id="rollback"`))
	}
	if resp, _ := get(t, rc, f.srv.URL, "/deployments/"+f.dep.ID+"/confirm/rollback"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's confirmation page: %s, want 403", resp.Status)
	}
	if resp, _ := post(t, rc, f.srv.URL, path, url.Values{"csrf": {rcsrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's rollback: %s, want 403", resp.Status)
	}
	if calls := f.deployer.Calls(); len(calls) != 1 {
		t.Errorf("a reader pressed a button: %v", calls)
	}
}

func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "lea", store.RoleRead)

	c := f.browser(t)
	csrf := f.signIn(t, c, tok)
	if resp, _ := post(t, c, f.srv.URL, "/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %s", resp.Status)
	}
	if resp, _ := get(t, c, f.srv.URL, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after signing out: %s, want a redirect to /login", resp.Status)
	}

	c = f.browser(t)
	f.signIn(t, c, tok)
	if _, err := f.store.RevokeToken(t.Context(), "lea"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, f.srv.URL, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after revoking the token: %s, want a redirect to /login", resp.Status)
	}
}

func TestDeploymentPage(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "dora", store.RoleDeploy))
	resp, body := get(t, c, f.srv.URL, "/deployments/"+f.dep.ID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s:\n%s", resp.Status, body)
	}
	for _, want := range []string{`data-new-share="25"`, `sse-connect="/deployments/` + f.dep.ID + `/live"`, `id="rollback"`, "hello-r1", "hello-r2"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	resp, body = get(t, c, f.srv.URL, "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-app="hello"`) || !strings.Contains(body, "green 25%") {
		t.Errorf("overview %s lacks the app or its split:\n%s", resp.Status, body)
	}
}

func TestDeploymentLiveStream(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "rita", store.RoleRead))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // ends the stream of a failing test
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/deployments/"+f.dep.ID+"/live", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%s %s", resp.Status, ct)
	}
	events := make(chan [2]string)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var name string
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data.WriteString(strings.TrimPrefix(line, "data: ") + "\n")
			case line == "" && name != "":
				select {
				case events <- [2]string{name, data.String()}:
				case <-ctx.Done():
					return
				}
				name = ""
				data.Reset()
			}
		}
	}()
	// next returns the next traffic part.
	next := func() string {
		for ev := range events {
			if ev[0] == "traffic" {
				return ev[1]
			}
		}
		t.Fatal("the stream ended")
		return ""
	}
	if part := next(); !strings.Contains(part, `data-new-share="25"`) {
		t.Fatalf("the first traffic part does not show 25%%:\n%s", part)
	}
	if _, err := f.store.RecordWeights(t.Context(), f.dep.ID, "production", map[string]int{"blue": 50, "green": 50}); err != nil {
		t.Fatal(err)
	}
	for {
		if part := next(); strings.Contains(part, `data-new-share="50"`) {
			break // the shift arrived without asking
		}
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "tess", store.RoleRead)
	srv := httptest.NewTLSServer(f.srv.Config.Handler)
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, body := get(t, c, srv.URL, "/login")
	if ck := resp.Cookies(); len(ck) != 1 || !ck[0].Secure {
		t.Errorf("the login cookie over TLS: %+v, want Secure", ck)
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field in the login form")
	}
	resp, _ = post(t, c, srv.URL, "/login", url.Values{"csrf": {m[1]}, "token": {tok}})
	var secure bool
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie && ck.Value != "" {
			secure = ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteStrictMode
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !secure {
		t.Errorf("sign-in over TLS: %s, session cookie Secure, HttpOnly and Strict: %v", resp.Status, secure)
	}
}
