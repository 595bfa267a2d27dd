package deploy

import (
	"reflect"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

func TestBuildProxyConfig(t *testing.T) {
	hc1 := health.Config{Path: "/v1"}
	hc2 := health.Config{Path: "/v2"}
	cfg := func(hc health.Config) config.App {
		return config.App{Health: hc, Listeners: config.Listeners{Production: ":8080", Test: ":8090"},
			Deploy: config.Deploy{DeregistrationDelay: 5 * time.Second}}
	}
	app := &appState{
		name:   "hello",
		cfg:    cfg(hc1),
		routed: cfg(hc1).Listeners,
		prod:   map[string]int{colorBlue: 90, colorGreen: 10},
		test:   colorGreen,
		sets: []*taskSet{
			{rev: store.Revision{Number: 1}, cfg: cfg(hc1), color: colorBlue, tasks: []*task{
				{id: "a", addr: "127.0.0.1:1", state: store.TaskHealthy, assumeHealthy: true},
				{id: "b", addr: "127.0.0.1:2", state: store.TaskHealthy, stopping: true}, // draining: deregistered
			}},
			{rev: store.Revision{Number: 2}, cfg: cfg(hc2), color: colorGreen, tasks: []*task{
				{id: "c", addr: "127.0.0.1:3", state: store.TaskRunning},
				{id: "d", state: store.TaskPending}, // not started: not registered
			}},
		},
	}
	otherListeners := config.Listeners{Production: ":8080", Hosts: []string{"api.example.com"}}
	other := &appState{
		name:   "api",
		cfg:    config.App{Listeners: otherListeners},
		routed: otherListeners,
		prod:   map[string]int{colorBlue: 100},
		test:   colorBlue,
	}
	got := buildProxyConfig(map[string]*appState{"hello": app, "api": other})
	want := proxy.Config{
		Listeners: []proxy.ListenerConfig{
			{Name: ":8080", Address: ":8080",
				Rules: []proxy.RuleConfig{{Priority: 1, Hosts: []string{"api.example.com"}, Forward: proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{
					{Name: "api-blue", Weight: 100}, {Name: "api-green", Weight: 0}}}}},
				Default: proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{{Name: "hello-blue", Weight: 90}, {Name: "hello-green", Weight: 10}}}},
			{Name: ":8090", Address: ":8090",
				Default: proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{{Name: "hello-green", Weight: 1}}}},
		},
		TargetGroups: []proxy.TargetGroupConfig{
			{Name: "api-blue", DeregistrationDelay: -1},
			{Name: "api-green", DeregistrationDelay: -1},
			{Name: "hello-blue", Targets: []string{"127.0.0.1:1"}, AssumeHealthy: []string{"127.0.0.1:1"}, HealthCheck: hc1, DeregistrationDelay: 5 * time.Second},
			{Name: "hello-green", Targets: []string{"127.0.0.1:3"}, HealthCheck: hc2, DeregistrationDelay: 5 * time.Second},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("buildProxyConfig:\n got %+v\nwant %+v", got, want)
	}
}

// TestHostRuleOrder: on a listener shared by host, a request reaches the
// app that names its host exactly, whichever app claims a wildcard over
// it and whatever the apps' names; longer wildcards before shorter.
func TestHostRuleOrder(t *testing.T) {
	app := func(name string, hosts ...string) *appState {
		l := config.Listeners{Production: ":8443", Hosts: hosts}
		return &appState{name: name, cfg: config.App{Name: name, Listeners: l}, routed: l, prod: map[string]int{colorBlue: 100}}
	}
	apps := map[string]*appState{
		"a-wild":  app("a-wild", "*.example.com"),
		"b-deep":  app("b-deep", "*.eu.example.com"),
		"c-exact": app("c-exact", "api.example.com", "*.api.example.com"),
	}
	cfg := buildProxyConfig(apps)
	var got [][]string
	for _, r := range cfg.Listeners[0].Rules {
		got = append(got, r.Hosts)
	}
	want := [][]string{{"api.example.com"}, {"*.api.example.com"}, {"*.eu.example.com"}, {"*.example.com"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules in order: got %v, want %v", got, want)
	}
	for i, r := range cfg.Listeners[0].Rules {
		if r.Priority != i+1 {
			t.Errorf("rule %d has priority %d", i, r.Priority)
		}
	}
}

// TestDeploymentKeepsRoutesUntilItSucceeds: production is routed by the
// listener and hosts in effect (routed), the test listener by the new
// configuration's.
func TestDeploymentKeepsRoutesUntilItSucceeds(t *testing.T) {
	oldL := config.Listeners{Production: ":8080", Hosts: []string{"old.example.com"}}
	newL := config.Listeners{Production: ":8080", Test: ":8090", Hosts: []string{"new.example.com"}}
	a := &appState{name: "web", cfg: config.App{Name: "web", Listeners: newL}, routed: oldL,
		prod: map[string]int{colorBlue: 100}, test: colorGreen}
	otherL := config.Listeners{Production: ":8081", Test: ":8090", Hosts: []string{"other.example.com"}}
	other := &appState{name: "other", cfg: config.App{Name: "other", Listeners: otherL}, routed: otherL,
		prod: map[string]int{colorBlue: 100}, test: colorBlue}
	cfg := buildProxyConfig(map[string]*appState{"web": a, "other": other})
	hosts := map[string][]string{}
	for _, l := range cfg.Listeners {
		for _, r := range l.Rules {
			hosts[l.Address] = append(hosts[l.Address], r.Hosts...)
		}
	}
	want := map[string][]string{":8080": {"old.example.com"}, ":8081": {"other.example.com"},
		":8090": {"other.example.com", "new.example.com"}}
	if !reflect.DeepEqual(hosts, want) {
		t.Errorf("hosts by listener: got %v, want %v", hosts, want)
	}
}

// TestTestListenerOfItsOwn: an app alone on its test listener is that
// listener's default action, so hooks reach it without a Host header.
func TestTestListenerOfItsOwn(t *testing.T) {
	l := config.Listeners{Production: ":8080", Test: ":8090", Hosts: []string{"web.example.com"}}
	a := &appState{name: "web", cfg: config.App{Name: "web", Listeners: l}, routed: l, prod: map[string]int{colorBlue: 100}, test: colorBlue}
	cfg := buildProxyConfig(map[string]*appState{"web": a})
	for _, pl := range cfg.Listeners {
		if pl.Address == ":8090" && (len(pl.Rules) != 0 || len(pl.Default.TargetGroups) != 1) {
			t.Errorf("test listener %+v: want only a default action", pl)
		}
	}
}
