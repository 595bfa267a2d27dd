package config

import (
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

func TestParseAppBalancerSettings(t *testing.T) {
	app, err := ParseApp("cutover.yaml", []byte(`name: a
service: {command: x, port: 80, max_body_size: 5MiB, max_connections_per_task: 100}
listeners: {production: ':1', max_header_size: 16KiB}
deploy:
  slow_start: 45s
  stickiness: {type: app_cookie, cookie_name: sid}
`))
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if app.Service.MaxBodySize != 5<<20 || app.Service.MaxConnectionsPerTask != 100 {
		t.Errorf("service limits: %d, %d", app.Service.MaxBodySize, app.Service.MaxConnectionsPerTask)
	}
	if app.Listeners.MaxHeaderSize != 16<<10 {
		t.Errorf("listeners.max_header_size = %d", app.Listeners.MaxHeaderSize)
	}
	want := proxy.StickinessConfig{Type: proxy.StickyAppCookie, CookieName: "sid", Duration: proxy.DefaultStickinessDuration}
	if app.Deploy.SlowStart != 45*time.Second || app.Deploy.Stickiness != want {
		t.Errorf("deploy: slow start %s, stickiness %+v; want 45s, %+v", app.Deploy.SlowStart, app.Deploy.Stickiness, want)
	}

	app, err = ParseApp("cutover.yaml", []byte("name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if app.Deploy.SlowStart != 0 || app.Deploy.Stickiness.Type != "" || app.Service.MaxBodySize != 0 ||
		app.Service.MaxConnectionsPerTask != 0 || app.Listeners.MaxHeaderSize != 0 {
		t.Errorf("defaults: all off, got %+v %+v %+v", app.Deploy, app.Service, app.Listeners)
	}
}

func TestParseAppBalancerSettingsErrors(t *testing.T) {
	base := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"
	tests := []struct{ name, yaml, want string }{
		{"slow start too short", base + "deploy: {slow_start: 5s}\n",
			"cutover.yaml:4:22: deploy.slow_start: 5s is too short; valid: 30s-15m, or 0s for off"},
		{"stickiness type", base + "deploy: {stickiness: {type: ip}}\n",
			`cutover.yaml:4:29: deploy.stickiness.type: "ip" is not a stickiness type; valid: lb_cookie, app_cookie`},
		{"app cookie without name", base + "deploy: {stickiness: {type: app_cookie}}\n",
			"deploy.stickiness.cookie_name: missing"},
		{"body size", "name: a\nservice: {command: x, port: 80, max_body_size: lots}\nlisteners: {production: ':1'}\n",
			`cutover.yaml:2:48: service.max_body_size: "lots" is not a size`},
		{"connections per task", "name: a\nservice: {command: x, port: 80, max_connections_per_task: -5}\nlisteners: {production: ':1'}\n",
			"service.max_connections_per_task: -5 is out of range; valid: 0-1000000"},
		{"header size", "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1', max_header_size: 2MiB}\n",
			"listeners.max_header_size: 2097152 bytes is out of range; valid: 1024-1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseApp("cutover.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
