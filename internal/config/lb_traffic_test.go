package config

import (
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

func TestParseLBTraffic(t *testing.T) {
	lb, err := ParseLB("lb.yaml", []byte(`
listeners:
  - {name: production, address: ":8080", forward: blue, max_header_size: 32KiB}
target_groups:
  - name: blue
    slow_start: 60s
    stickiness: {type: lb_cookie, duration: 1h}
    max_body_size: 10MiB
    max_connections_per_target: 200
  - name: green
    stickiness: {type: app_cookie, cookie_name: SESSIONID}
    max_body_size: 1000
`))
	if err != nil {
		t.Fatalf("ParseLB: %v", err)
	}
	if got := lb.Proxy.Listeners[0].MaxHeaderSize; got != 32<<10 {
		t.Errorf("max_header_size = %d, want %d", got, 32<<10)
	}
	blue, green := lb.Proxy.TargetGroups[0], lb.Proxy.TargetGroups[1]
	if blue.SlowStart != time.Minute || blue.Stickiness != (proxy.StickinessConfig{Type: "lb_cookie", Duration: time.Hour}) ||
		blue.MaxBodySize != 10<<20 || blue.MaxConnectionsPerTarget != 200 {
		t.Errorf("blue = %+v", blue)
	}
	if green.Stickiness != (proxy.StickinessConfig{Type: "app_cookie", CookieName: "SESSIONID"}) || green.MaxBodySize != 1000 {
		t.Errorf("green = %+v", green)
	}
	if d := lb.Proxy.WithDefaults().TargetGroups[1].Stickiness.Duration; d != proxy.DefaultStickinessDuration {
		t.Errorf("default stickiness duration %s, want %s", d, proxy.DefaultStickinessDuration)
	}
}

func TestParseLBTrafficErrors(t *testing.T) {
	const listener = "listeners: [{name: p, address: \":80\", forward: a}]\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"slow start too short", "target_groups: [{name: a, slow_start: 10s}]",
			"lb.yaml:2:39: target_groups[0].slow_start: 10s is too short; valid: 30s-15m, or 0s for off"},
		{"slow start too long", "target_groups: [{name: a, slow_start: 1h}]",
			"target_groups[0].slow_start: 1h0m0s is out of range; valid: 0s-15m"},
		{"stickiness type", "target_groups: [{name: a, stickiness: {type: source_ip}}]",
			"lb.yaml:2:46: target_groups[0].stickiness.type: \"source_ip\" is not a stickiness type; valid: lb_cookie, app_cookie"},
		{"stickiness without type", "target_groups: [{name: a, stickiness: {duration: 1h}}]",
			"target_groups[0].stickiness.type: missing"},
		{"app cookie without name", "target_groups: [{name: a, stickiness: {type: app_cookie}}]",
			"target_groups[0].stickiness.cookie_name: missing; app_cookie follows the cookie the app sets"},
		{"app cookie named as the proxy's", "target_groups: [{name: a, stickiness: {type: app_cookie, cookie_name: CUTOVER_STICKY}}]",
			"target_groups[0].stickiness.cookie_name: names starting with CUTOVER_STICKY are the proxy's own"},
		{"bad cookie name", "target_groups: [{name: a, stickiness: {type: app_cookie, cookie_name: \"a b\"}}]",
			"stickiness.cookie_name: ' ' is not allowed in a cookie name"},
		{"lb cookie with a name", "target_groups: [{name: a, stickiness: {type: lb_cookie, cookie_name: X}}]",
			"stickiness.cookie_name: is only for type app_cookie"},
		{"stickiness too long", "target_groups: [{name: a, stickiness: {type: lb_cookie, duration: 200h}}]",
			"stickiness.duration: 200h0m0s is out of range; valid: 1s-168h"},
		{"body size not a size", "target_groups: [{name: a, max_body_size: 10 megs}]",
			"lb.yaml:2:42: target_groups[0].max_body_size: \"10 megs\" is not a size; write bytes, or e.g. 64KiB, 10MB, 1GiB"},
		{"negative connections", "target_groups: [{name: a, max_connections_per_target: -1}]",
			"target_groups[0].max_connections_per_target: -1 is out of range; valid: 0-1000000"},
		{"header size too small", "target_groups: [{name: a}]\nlisteners: [{name: q, address: \":81\", forward: a, max_header_size: 100}]",
			"listeners[0].max_header_size: 100 bytes is out of range; valid: 1024-1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := listener + tt.yaml + "\n"
			if strings.HasPrefix(tt.yaml, "target_groups: [{name: a}]\nlisteners") {
				src = tt.yaml + "\n"
			}
			_, err := ParseLB("lb.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1000", 1000, true}, {"64KiB", 64 << 10, true}, {"10MB", 10e6, true},
		{"1GiB", 1 << 30, true}, {"5 MiB", 5 << 20, true}, {"12B", 12, true},
		{"-1", 0, false}, {"1.5MiB", 0, false}, {"MiB", 0, false}, {"10 megs", 0, false}, {"9999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
