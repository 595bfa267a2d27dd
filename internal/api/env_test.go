package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// Config vars: a deployer sets them and sees names with every value
// masked; admin sees values but a secret's only with reveal, which a
// deployer may not ask; neither the answers nor the event log a deployer
// reads hold the secret. Wrong input is refused and changes nothing.
func TestEnvMaskedByRole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const secret = "hunter2-9b1f"
	deployer, err := Connect(f.remote, f.secrets["deployer"])
	if err != nil {
		t.Fatal(err)
	}
	admin, err := Connect(f.remote, f.secrets["admin"])
	if err != nil {
		t.Fatal(err)
	}
	got, err := deployer.ChangeEnv(ctx, "hello", EnvRequest{Set: []EnvVar{{Name: "GREETING", Value: "hi"}, {Name: "DB_PASSWORD", Value: secret, Secret: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Vars) != 2 || got.Vars[0].Value != masked || got.Vars[1].Value != masked {
		t.Errorf("deployer's answer %+v; want both values masked", got.Vars)
	}
	values := func(a EnvAnswer) map[string]string {
		m := map[string]string{}
		for _, v := range a.Vars {
			m[v.Name] = v.Value
		}
		return m
	}
	if a, err := admin.Env(ctx, "hello", "", false); err != nil || values(a)["GREETING"] != "hi" || values(a)["DB_PASSWORD"] != masked {
		t.Errorf("admin without reveal: %+v, %v; want GREETING in clear, the secret masked", a, err)
	}
	if a, err := admin.Env(ctx, "hello", "", true); err != nil || values(a)["DB_PASSWORD"] != secret {
		t.Errorf("admin with reveal: %+v, %v; want the secret", a, err)
	}
	var apiErr *Error
	if _, err := deployer.Env(ctx, "hello", "", true); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("deployer with reveal: %v; want 403", err)
	}

	req, _ := http.NewRequest("GET", f.remote+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.secrets["admin"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), secret) || !strings.Contains(string(body), "DB_PASSWORD") {
		t.Errorf("events hold the secret, or do not name the change: %s", body)
	}

	before := f.state(t)
	refused := []EnvRequest{
		{Set: []EnvVar{{Name: "OK", Value: "1"}, {Name: "BAD-NAME", Value: "1"}}},
		{Set: []EnvVar{{Name: "PORT", Value: "1"}}},
		{Scope: "deploy", Set: []EnvVar{{Name: "OK", Value: "1"}}},
		{Unset: []string{"NOT_SET"}},
		{},
	}
	for _, r := range refused {
		if _, err := deployer.ChangeEnv(ctx, "hello", r); err == nil {
			t.Errorf("ChangeEnv(%+v) succeeded; want it refused", r)
		}
	}
	if _, err := deployer.ChangeEnv(ctx, "nope", EnvRequest{Set: []EnvVar{{Name: "OK", Value: "1"}}}); err == nil {
		t.Error("ChangeEnv of an unknown app succeeded")
	}
	if after := f.state(t); after.lastEvent != before.lastEvent {
		t.Errorf("refused changes appended events (%d -> %d)", before.lastEvent, after.lastEvent)
	}
	if a, _ := admin.Env(ctx, "hello", "", false); len(a.Vars) != 2 {
		t.Errorf("after refused changes: %+v; want the two vars only", a.Vars)
	}
}

// A revision's config vars (Service.ConfigVars) are masked for read and
// deploy tokens like its env, in apps and events.
func TestConfigVarsMaskedLikeEnv(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := []byte(`{"Name": "other", "Service": {"Env": {"MODE": "production"}, "ConfigVars": {"GREETING": "clear-9a7c"}}}`)
	if err := f.st.PutApp(ctx, store.App{Name: "other", Spec: spec, DesiredCount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateRevision(ctx, store.Revision{App: "other", Config: spec}); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"reader", "deployer"} {
		for _, path := range []string{"/api/v1/apps", "/api/v1/apps/other", "/api/v1/events"} {
			req, _ := http.NewRequest(http.MethodGet, f.remote+path, nil)
			req.Header.Set("Authorization", "Bearer "+f.secrets[token])
			if body := getBody(t, req); strings.Contains(body, "clear-9a7c") {
				t.Errorf("%s %s shows a config var's value:\n%s", token, path, body)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, f.remote+"/api/v1/apps/other", nil)
	req.Header.Set("Authorization", "Bearer "+f.secrets["admin"])
	if body := getBody(t, req); !strings.Contains(body, "clear-9a7c") {
		t.Errorf("admin does not see the value:\n%s", body)
	}
}
