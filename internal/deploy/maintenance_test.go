package deploy

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

// answer is what a listener answers to GET /.
type answer struct {
	status     int
	version    string // X-Version: the task that answered
	retryAfter string
	body       string
}

func ask(t *testing.T, addr string) answer {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("X-Version"), resp.Header.Get("Retry-After"), string(body)}
}

// TestMaintenance turns maintenance on: production answers 503 with the
// page while the test listener still forwards; a deployment meanwhile
// completes and stays in maintenance; a restarted controller keeps it;
// off serves the new revision. Bad input changes nothing.
func TestMaintenance(t *testing.T) {
	dir := t.TempDir()
	e := newEnvIn(t, dir)
	e.setup(e.appConfig("v1"))

	refused := []struct {
		app, page string
		retry     int
		want      error
	}{
		{"nope", "", 60, store.ErrNotFound},
		{"web", strings.Repeat("x", MaxMaintenancePage+1), 60, store.ErrInvalid},
		{"web", "\xff", 60, store.ErrInvalid},
		{"web", "", 0, store.ErrInvalid},
		{"web", "", MaxMaintenanceRetryAfter + 1, store.ErrInvalid},
	}
	for _, tt := range refused {
		if _, err := e.ctrl.SetMaintenance(t.Context(), tt.app, tt.page, tt.retry); !errors.Is(err, tt.want) {
			t.Errorf("SetMaintenance(%s, %d-byte page, %d) = %v, want %v", tt.app, len(tt.page), tt.retry, err, tt.want)
		}
	}
	if a := ask(t, e.prodAddr); a.status != 200 {
		t.Fatalf("after refused changes production answers %+v, want 200", a)
	}
	if err := e.ctrl.ClearMaintenance(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ClearMaintenance(nope) = %v, want ErrNotFound", err)
	}

	if _, err := e.ctrl.SetMaintenance(t.Context(), "web", "", 120); err != nil {
		t.Fatal(err)
	}
	inMaintenance := func(when string) {
		t.Helper()
		a := ask(t, e.prodAddr)
		if a.status != 503 || a.retryAfter != "120" || a.body != DefaultMaintenancePage("web") {
			t.Errorf("%s: production answers %d, Retry-After %q, %q; want 503, 120, the default page", when, a.status, a.retryAfter, a.body)
		}
	}
	inMaintenance("maintenance on")
	if a := ask(t, e.testAddr); a.status != 200 || a.version != "v1" {
		t.Errorf("test listener in maintenance: %+v, want 200 from v1", a)
	}

	if d := e.deploy(e.appConfig("v2")); d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment in maintenance ended %s: %s", d.Status, d.Error)
	}
	inMaintenance("after a deployment")
	if a := ask(t, e.testAddr); a.status != 200 || a.version != "v2" {
		t.Errorf("test listener after the deployment: %+v, want 200 from v2", a)
	}

	e.kill()
	e.startController()
	inMaintenance("after a restart of the controller")

	if err := e.ctrl.ClearMaintenance(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	if a := ask(t, e.prodAddr); a.status != 200 || a.version != "v2" || a.retryAfter != "" {
		t.Errorf("maintenance off: %+v, want 200 from v2 without Retry-After", a)
	}
}

// TestMaintainFindsTheAppsRoutes: the fixed response replaces the app's
// own production route, the default or its host rules, and no other
// app's.
func TestMaintainFindsTheAppsRoutes(t *testing.T) {
	fixed := &proxy.FixedResponseConfig{StatusCode: 503, Body: "down"}
	mk := func(name string, hosts []string, m *proxy.FixedResponseConfig) *appState {
		l := config.Listeners{Production: ":8080", Test: ":8090", Hosts: hosts}
		return &appState{
			name: name, maintenance: m, cfg: config.App{Listeners: l}, routed: l,
			prod: map[string]int{colorBlue: 100}, test: colorBlue,
		}
	}
	fwd := func(app string) proxy.ForwardConfig {
		return proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{{Name: app + "-blue", Weight: 100}, {Name: app + "-green", Weight: 0}}}
	}
	tests := []struct {
		name  string
		apps  map[string]*appState
		prod  proxy.ListenerConfig
		tests int // rules and default of the test listener that forward
	}{
		{"default in maintenance", map[string]*appState{
			"web": mk("web", nil, fixed), "api": mk("api", []string{"api.example.com"}, nil),
		}, proxy.ListenerConfig{Name: ":8080", Address: ":8080", DefaultFixedResponse: fixed,
			Rules: []proxy.RuleConfig{{Priority: 1, Hosts: []string{"api.example.com"}, Forward: fwd("api")}}}, 2},
		{"host rule in maintenance", map[string]*appState{
			"web": mk("web", nil, nil), "api": mk("api", []string{"api.example.com"}, fixed),
		}, proxy.ListenerConfig{Name: ":8080", Address: ":8080", Default: fwd("web"),
			Rules: []proxy.RuleConfig{{Priority: 1, Hosts: []string{"api.example.com"}, FixedResponse: fixed}}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := buildProxyConfig(tt.apps)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("invalid proxy config: %v", err)
			}
			if !reflect.DeepEqual(cfg.Listeners[0], tt.prod) {
				t.Errorf("production listener:\n got %+v\nwant %+v", cfg.Listeners[0], tt.prod)
			}
			test := cfg.Listeners[1]
			forwarding := len(test.Default.TargetGroups)
			for _, r := range test.Rules {
				forwarding += len(r.Forward.TargetGroups)
				if r.FixedResponse != nil {
					t.Errorf("test listener rule %+v has a fixed response", r)
				}
			}
			if test.DefaultFixedResponse != nil || forwarding != tt.tests {
				t.Errorf("test listener %+v: want both apps forwarded", test)
			}
		})
	}
}
