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
		name: "hello",
		cfg:  cfg(hc1),
		prod: map[string]int{colorBlue: 90, colorGreen: 10},
		test: colorGreen,
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
	other := &appState{
		name: "api",
		cfg:  config.App{Listeners: config.Listeners{Production: ":8080", Hosts: []string{"api.example.com"}}},
		prod: map[string]int{colorBlue: 100},
		test: colorBlue,
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
