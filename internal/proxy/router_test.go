package proxy

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestRouteMatching(t *testing.T) {
	lc := ListenerConfig{
		Name: "web",
		Rules: []RuleConfig{
			// Listed out of order: priority decides, not position.
			{Priority: 30, Hosts: []string{"*.example.com"}, Forward: forward("wild", 1)},
			{Priority: 10, Hosts: []string{"API.example.com"}, Forward: forward("api", 1)},
			{Priority: 20, Hosts: []string{"*.example.com"}, PathPrefixes: []string{"/admin"}, Forward: forward("admin", 1)},
			{Priority: 5, PathPrefixes: []string{"/static/", "/assets"}, Forward: forward("static", 1)},
		},
		Default: forward("default", 1),
	}
	groups := map[string]*targetGroup{}
	for _, n := range []string{"wild", "api", "admin", "static", "default"} {
		groups[n] = newTargetGroup(n, testLogger(t), nil, &sync.WaitGroup{})
	}
	rt := buildRoutes(lc, groups)

	tests := []struct {
		host, path string
		want       string
	}{
		{"api.example.com", "/", "api"},
		{"Api.Example.COM:8080", "/x", "api"},  // case and port ignored
		{"api.example.com", "/admin", "api"},   // priority 10 beats 20
		{"app.example.com", "/admin", "admin"}, // wildcard + path
		{"app.example.com", "/admin/users", "admin"},
		{"app.example.com", "/administrator", "wild"}, // whole segments only
		{"a.b.example.com", "/", "wild"},              // several labels
		{"example.com", "/", "default"},               // wildcard needs a label
		{"evilexample.com", "/", "default"},
		{"app.example.com.", "/", "wild"}, // trailing dot
		{"other.org", "/static/app.js", "static"},
		{"other.org", "/static", "default"}, // "/static/" needs the slash
		{"other.org", "/assets", "static"},
		{"other.org", "/assets/x.css", "static"},
		{"other.org", "/assetsx", "default"},
		{"[::1]:80", "/", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.Host = tt.host
			act := rt.match(r)
			if act == nil {
				t.Fatalf("no action, want %s", tt.want)
			}
			if got := act.groups[0].group.name; got != tt.want {
				t.Errorf("routed to %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRulesThroughProxy(t *testing.T) {
	api := newBackend(t, "api", nil)
	web := newBackend(t, "web", nil)
	cfg := Config{
		Listeners: []ListenerConfig{{
			Name: "web", Address: "127.0.0.1:0",
			Rules: []RuleConfig{
				{Priority: 1, Hosts: []string{"api.example.com"}, PathPrefixes: []string{"/v1"}, Forward: forward("api", 1)},
			},
			Default: forward("web", 1),
		}},
		TargetGroups: []TargetGroupConfig{group("api", api.addr), group("web", web.addr)},
	}
	p := startProxy(t, cfg)
	c := newClient()
	for _, tt := range []struct{ host, path, want string }{
		{"api.example.com", "/v1/users", "api"},
		{"api.example.com", "/v2", "web"},
		{"www.example.com", "/v1", "web"},
	} {
		req, _ := http.NewRequest(http.MethodGet, baseURL(p, "web")+tt.path, nil)
		req.Host = tt.host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if body != tt.want {
			t.Errorf("%s%s went to %q, want %q", tt.host, tt.path, body, tt.want)
		}
	}
}

func TestWeightsSplitProportionally(t *testing.T) {
	a := &action{}
	for _, w := range []struct {
		name   string
		weight int
	}{{"a", 1}, {"b", 3}} {
		g := newTargetGroup(w.name, testLogger(t), nil, &sync.WaitGroup{})
		g.settings.Store(&groupSettings{})
		tg := newTarget(w.name + ":1")
		tg.health.Store(1) // healthy
		g.active.Store(&[]*target{tg})
		a.groups = append(a.groups, weightedGroup{group: g, weight: w.weight})
		a.total += w.weight
	}
	counts := map[string]int{}
	const n = 40000
	for range n {
		g, tg := a.pick(nil)
		counts[g.name]++
		tg.inFlight.Add(-1)
	}
	// 1:3 expected; a binomial spread over 40000 picks stays far inside ±2%.
	if share := float64(counts["a"]) / n; share < 0.23 || share > 0.27 {
		t.Errorf("weight 1 of 4 got %.3f of the requests, want about 0.25", share)
	}
}
