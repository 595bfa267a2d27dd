package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// fixture is an API with one deployment in progress, one task, one
// pipeline execution in progress and a token of each role, plus a revoked
// admin token and a token to revoke.
type fixture struct {
	*testAPI
	d       *scriptedDeployer
	dep     store.Deployment
	exec    store.Execution
	secrets map[string]string // by token name: reader, deployer, admin, revoked, victim
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	d := &scriptedDeployer{}
	a := serveBoth(t, d)
	dep, err := d.DeployDir(ctx, DeployRequest{Dir: "/srv/hello"})
	if err != nil {
		t.Fatal(err)
	}
	d.calls.Store(0)
	if err := a.st.PutTask(ctx, store.Task{ID: "hello-t1", App: "hello", Revision: dep.ToRevision, State: store.TaskRunning}); err != nil {
		t.Fatal(err)
	}
	app, err := a.st.GetApp(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	app.Spec = []byte(`{"name": "hello"}`) // registered by cutover up: pipelines may start
	if err := a.st.PutApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	exec, err := a.p.Start(ctx, "hello", pipeline.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.p.calls.Store(0)
	if _, err := a.st.AddNotificationHook(ctx, store.NotificationHook{App: "hello", URL: "http://127.0.0.1:1/hook"}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{testAPI: a, d: d, dep: dep, exec: exec, secrets: map[string]string{}}
	for name, role := range map[string]string{"reader": "read", "deployer": "deploy", "admin": "admin", "revoked": "admin", "victim": "read"} {
		tk, err := a.local.CreateToken(ctx, TokenRequest{Name: name, Role: role})
		if err != nil {
			t.Fatalf("creating token %s: %v", name, err)
		}
		f.secrets[name] = tk.Secret
	}
	if _, err := a.local.RevokeToken(ctx, "revoked"); err != nil {
		t.Fatal(err)
	}
	return f
}

// request builds a call of rt with its path parameters and body filled.
func (f *fixture) request(t *testing.T, rt route, secret string) *http.Request {
	t.Helper()
	path := strings.NewReplacer("{app}", "hello", "{id}", f.dep.ID, "{name}", "victim", "{hook}", "hello-n1").Replace(rt.path)
	if strings.HasPrefix(rt.path, "/api/v1/tasks/{id}") {
		path = strings.Replace(rt.path, "{id}", "hello-t1", 1)
	}
	if strings.HasPrefix(rt.path, "/api/v1/executions/{id}") {
		path = strings.Replace(rt.path, "{id}", f.exec.ID, 1)
	}
	var body io.Reader
	switch rt.method + " " + rt.path {
	case "POST /api/v1/deployments":
		body = strings.NewReader(`{"dir": "/srv/hello"}`)
	case "POST /api/v1/apps/{app}/scale":
		body = strings.NewReader(`{"count": 2}`)
	case "POST /api/v1/apps/{app}/run":
		body = strings.NewReader(`{"command": ["echo", "hi"]}`)
	case "POST /api/v1/apps/{app}/rollback":
		body = strings.NewReader(`{"to": "r1"}`)
	case "POST /api/v1/apps/{app}/env":
		body = strings.NewReader(`{"set": [{"name": "GREETING", "value": "hi"}]}`)
	case "POST /api/v1/apps/{app}/notifications":
		body = strings.NewReader(`{"url": "https://hooks.example.com/T1/B2", "events": ["deployment.failed"], "secret": "s"}`)
	case "POST /api/v1/tokens":
		body = strings.NewReader(`{"name": "new", "role": "read"}`)
	case "PUT /api/v1/pipelines/{app}":
		body = strings.NewReader(`{"mode": "QUEUED", "approval": true, "approval_timeout": "10m"}`)
	case "POST /api/v1/executions/{id}/approve":
		body = strings.NewReader(`{"comment": "looks good"}`)
	}
	req, err := http.NewRequest(rt.method, f.remote+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	return req
}

// state is what a refused call must not change.
type state struct {
	lastEvent int64
	calls     int32
	tokens    string
}

func (f *fixture) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	last, err := f.st.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tks, err := f.st.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tk := range tks {
		fmt.Fprintf(&b, "%s/%s/%v;", tk.Name, tk.Role, tk.Revoked())
	}
	return state{lastEvent: last, calls: f.d.calls.Load() + f.p.calls.Load(), tokens: b.String()}
}

func TestEveryRouteRefusesWithoutTheRightToken(t *testing.T) {
	f := newFixture(t)
	wellFormedUnknown, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name   string
		secret string
		want   int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"malformed token", "hunter2", http.StatusUnauthorized},
		{"unknown token", wellFormedUnknown, http.StatusUnauthorized},
		{"revoked token", f.secrets["revoked"], http.StatusUnauthorized},
	}
	for _, rt := range f.h.routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			cases := refusals
			if rt.role == store.RoleDeploy || rt.role == store.RoleAdmin {
				cases = append(cases, struct {
					name   string
					secret string
					want   int
				}{"read role", f.secrets["reader"], http.StatusForbidden})
			}
			if rt.role == store.RoleAdmin {
				cases = append(cases, struct {
					name   string
					secret string
					want   int
				}{"deploy role", f.secrets["deployer"], http.StatusForbidden})
			}
			for _, c := range cases {
				before := f.state(t)
				resp, err := http.DefaultClient.Do(f.request(t, rt, c.secret))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: %d %s %s, want %d problem", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.want)
				}
				if after := f.state(t); after != before {
					t.Errorf("%s: refused call changed state: %+v -> %+v", c.name, before, after)
				}
			}
		})
	}
}

func TestEveryRouteServesItsRole(t *testing.T) {
	for _, rt := range newFixture(t).h.routes {
		for _, who := range []string{"reader", "deployer", "admin"} {
			role := map[string]string{"reader": "read", "deployer": "deploy", "admin": "admin"}[who]
			if !(auth.Principal{Role: role}).Allows(rt.role) {
				continue
			}
			t.Run(rt.method+" "+rt.path+" as "+role, func(t *testing.T) {
				f := newFixture(t) // each call on fresh state: some end the deployment
				if rt.method+" "+rt.path == "POST /api/v1/deployments" {
					_, err := f.st.UpdateDeployment(context.Background(), f.dep.ID, func(d *store.Deployment) error {
						d.Status = store.DeploymentSucceeded
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				resp, err := http.DefaultClient.Do(f.request(t, rt, f.secrets[who]))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				if rt.method != http.MethodGet {
					evs, err := f.st.Events(context.Background(), store.EventFilter{Newest: true, Limit: 1})
					if err != nil || len(evs) != 1 {
						t.Fatalf("events: %v, %v", evs, err)
					}
					if want := "token:" + who; evs[0].Actor != want {
						t.Errorf("last event %s by %q, want %q", evs[0].Type, evs[0].Actor, want)
					}
				}
			})
		}
	}
}

func TestLocalIsAdmin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.local.Tokens(ctx); err != nil {
		t.Fatalf("listing tokens on the socket: %v", err)
	}
	if _, err := f.local.Act(ctx, f.dep.ID, "stop"); err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.Events(ctx, store.EventFilter{Types: []string{EventDeploymentAction}})
	if err != nil || len(evs) != 1 || evs[0].Actor != "local" {
		t.Fatalf("action events %+v, %v; want one by local", evs, err)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin, err := Connect(f.remote, f.secrets["admin"])
	if err != nil {
		t.Fatal(err)
	}
	tk, err := admin.CreateToken(ctx, TokenRequest{Name: "ci", Role: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tk.Secret, auth.Prefix) || tk.Name != "ci" || tk.Role != "deploy" {
		t.Fatalf("created %+v", tk)
	}
	stored, err := f.st.TokenByHash(ctx, auth.Hash(tk.Secret))
	if err != nil || stored.Name != "ci" {
		t.Fatalf("the store has no token with the secret's hash: %+v, %v", stored, err)
	}
	if stored.Hash == tk.Secret || strings.Contains(stored.Hash, tk.Secret[len(auth.Prefix):]) {
		t.Fatal("the store keeps the secret itself")
	}
	evs, _ := f.st.Events(ctx, store.EventFilter{})
	for _, ev := range evs {
		if strings.Contains(string(ev.Data), tk.Secret) || strings.Contains(string(ev.Data), stored.Hash) {
			t.Fatalf("event %s carries the token or its hash", ev.Type)
		}
	}

	ci, _ := Connect(f.remote, tk.Secret)
	if _, err := ci.Apps(ctx); err != nil {
		t.Fatalf("using the new token: %v", err)
	}
	list, err := admin.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found *store.Token
	for i := range list {
		if list[i].Name == "ci" {
			found = &list[i]
		}
	}
	if found == nil || found.LastUsedAt.IsZero() || found.Revoked() {
		t.Fatalf("token list %+v: want ci, used, not revoked", list)
	}

	if _, err := admin.RevokeToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	var apiErr *Error
	if _, err := ci.Apps(ctx); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("a revoked token: %v, want 401", err)
	}
	if _, err := admin.CreateToken(ctx, TokenRequest{Name: "ci", Role: "read"}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Errorf("reusing a revoked token's name: %v, want 409", err)
	}
	if _, err := admin.CreateToken(ctx, TokenRequest{Role: "root"}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Errorf("an unknown role: %v, want 400", err)
	}
}

func TestTaskLogs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rc, err := f.local.TaskLogs(ctx, "hello-t1", -1, false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "one\ntwo\nthree\n" {
		t.Errorf("logs %q", b)
	}
	var apiErr *Error
	if _, err := f.local.TaskLogs(ctx, "nope", 10, false); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("logs of an unknown task: %v, want 404", err)
	}
}
