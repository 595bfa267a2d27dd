package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// envSpec is an app's spec as the deployment controller stores it, with
// a secret in the service's environment.
func envSpec(t *testing.T) []byte {
	t.Helper()
	spec, err := json.Marshal(config.App{Name: "hello", Service: config.Service{
		Port: 8080, Count: 3, Env: map[string]string{"DB_PASSWORD": "hunter2", "MODE": "production"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestMaskServiceEnv(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		want      map[string]string // the Env the masked spec decodes to
		unchanged bool
	}{
		{"controller's encoding", string(envSpec(t)), map[string]string{"DB_PASSWORD": masked, "MODE": masked}, false},
		{"lower case", `{"service": {"env": {"TOKEN": "s3cret"}}}`, map[string]string{"TOKEN": masked}, false},
		{"no env", `{"Service": {"Port": 8080}}`, nil, true},
		{"null env", `{"Service": {"Env": null}}`, nil, true},
		{"no service", `{"name": "hello"}`, nil, true},
		{"empty", ``, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := maskServiceEnv(json.RawMessage(tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			if tt.unchanged {
				if string(got) != tt.spec {
					t.Fatalf("masked spec = %s, want it unchanged", got)
				}
				return
			}
			var app config.App
			if err := json.Unmarshal(got, &app); err != nil {
				t.Fatalf("the masked spec does not decode: %v\n%s", err, got)
			}
			if !equalEnv(app.Service.Env, tt.want) {
				t.Fatalf("masked Env = %v, want %v", app.Service.Env, tt.want)
			}
			if strings.Contains(string(got), "hunter2") || strings.Contains(string(got), "s3cret") {
				t.Fatalf("the masked spec holds a secret: %s", got)
			}
		})
	}
	if _, err := maskServiceEnv(json.RawMessage(`{"Service": {"Env": "x"}}`)); err == nil {
		t.Error("an Env that is not an object was passed through")
	}
	var app config.App
	if err := json.Unmarshal(mustMask(t, envSpec(t)), &app); err != nil || app.Service.Port != 8080 || app.Service.Count != 3 || app.Name != "hello" {
		t.Errorf("the rest of the spec changed: %+v, %v", app, err)
	}
}

func mustMask(t *testing.T, spec []byte) []byte {
	t.Helper()
	got, err := maskServiceEnv(spec)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func equalEnv(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAppEnvOnlyForAdmin: GET /api/v1/apps/{app}, /api/v1/apps and
// the app.updated event in /api/v1/events show the service's environment
// values to admin only; other roles see the keys.
func TestAppEnvOnlyForAdmin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	app, err := f.st.GetApp(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	app.Spec = envSpec(t)
	if err := f.st.PutApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token   string
		secrets bool
	}{
		{"reader", false},
		{"deployer", false},
		{"admin", true},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/apps/hello", "/api/v1/apps", "/api/v1/events?app=hello"} {
			t.Run(tt.token+" "+path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, f.remote+path, nil)
				req.Header.Set("Authorization", "Bearer "+f.secrets[tt.token])
				body := getBody(t, req)
				if !strings.Contains(body, "DB_PASSWORD") {
					t.Fatalf("the environment's keys are not shown:\n%s", body)
				}
				if got := strings.Contains(body, "hunter2"); got != tt.secrets {
					t.Fatalf("%s sees the secret value: %v, want %v:\n%s", tt.token, got, tt.secrets, body)
				}
			})
		}
	}
	// The unix socket is admin.
	s, err := f.local.App(ctx, "hello")
	if err != nil || !strings.Contains(string(s.Spec), "hunter2") {
		t.Fatalf("local caller: %s, %v; want the values", s.Spec, err)
	}
}

func getBody(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s\n%s", req.Method, req.URL.Path, resp.Status, b.String())
	}
	return b.String()
}

// TestNoEnvValueReachesAReadToken plants a secret in an app's spec, a
// revision's configuration and a deployment's configuration (with the
// configuration before it), and searches every answer a read token gets
// about them, events included, for it.
func TestNoEnvValueReachesAReadToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := envSpec(t)
	if err := f.st.PutApp(ctx, store.App{Name: "other", Spec: spec, DesiredCount: 1}); err != nil {
		t.Fatal(err)
	}
	rev, err := f.st.CreateRevision(ctx, store.Revision{App: "other", Artifact: "/srv/other", Config: spec})
	if err != nil {
		t.Fatal(err)
	}
	config := []byte(`{"spec": ` + string(spec) + `, "prev_spec": ` + string(spec) + `}`)
	dep, err := f.st.CreateDeployment(ctx, store.Deployment{App: "other", ToRevision: rev.ID, Strategy: "AllAtOnce", Config: config})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/api/v1/apps", "/api/v1/apps/other", "/api/v1/deployments", "/api/v1/deployments/" + dep.ID,
		"/api/v1/events", "/api/v1/events?app=other", "/api/v1/apps/other/revisions"}
	for _, token := range []string{"reader", "deployer"} {
		for _, path := range paths {
			req, _ := http.NewRequest(http.MethodGet, f.remote+path, nil)
			req.Header.Set("Authorization", "Bearer "+f.secrets[token])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "hunter2") {
				t.Errorf("%s %s (%d) shows the secret:\n%s", token, path, resp.StatusCode, body)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, f.remote+"/api/v1/deployments/"+dep.ID, nil)
	req.Header.Set("Authorization", "Bearer "+f.secrets["admin"])
	if body := getBody(t, req); !strings.Contains(body, "hunter2") {
		t.Errorf("admin does not see the values:\n%s", body)
	}
}
