package deploy

import (
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
)

// An app's slow start, stickiness and limits from cutover.yaml reach both
// its target groups; apps sharing a listener get the largest header cap.
func TestBuildProxyConfigBalancerSettings(t *testing.T) {
	sticky := proxy.StickinessConfig{Type: proxy.StickyLBCookie, Duration: time.Hour}
	web := config.App{
		Listeners: config.Listeners{Production: ":8080", Hosts: []string{"web.example.com"}, MaxHeaderSize: 16 << 10},
		Deploy:    config.Deploy{SlowStart: time.Minute, Stickiness: sticky},
		Service:   config.Service{MaxBodySize: 1 << 20, MaxConnectionsPerTask: 50},
	}
	api := config.App{Listeners: config.Listeners{Production: ":8080", Hosts: []string{"api.example.com"}, MaxHeaderSize: 32 << 10}}
	apps := map[string]*appState{
		"web": {name: "web", cfg: web, routed: web.Listeners, prod: map[string]int{colorBlue: 100}, test: colorBlue},
		"api": {name: "api", cfg: api, routed: api.Listeners, prod: map[string]int{colorBlue: 100}, test: colorBlue},
	}
	cfg := buildProxyConfig(apps)
	if len(cfg.Listeners) != 1 || cfg.Listeners[0].MaxHeaderSize != 32<<10 {
		t.Fatalf("listeners %+v, want one with MaxHeaderSize %d", cfg.Listeners, 32<<10)
	}
	for _, tg := range cfg.TargetGroups {
		switch tg.Name {
		case "web-blue", "web-green":
			if tg.SlowStart != time.Minute || tg.Stickiness != sticky || tg.MaxBodySize != 1<<20 || tg.MaxConnectionsPerTarget != 50 {
				t.Errorf("%s: %+v", tg.Name, tg)
			}
		default:
			if tg.SlowStart != 0 || tg.Stickiness.Type != "" || tg.MaxBodySize != 0 || tg.MaxConnectionsPerTarget != 0 {
				t.Errorf("%s has settings of another app: %+v", tg.Name, tg)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the proxy refuses it: %v", err)
	}
}
