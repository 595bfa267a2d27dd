package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

const goodLB = `
admin: 127.0.0.1:9999
listeners:
  - name: production
    address: ":8080"
    rules:
      - priority: 10
        hosts: [app1.example.com, "*.app1.example.com"]
        paths: [/api]
        forward:
          - {target_group: blue, weight: 90}
          - {target_group: green, weight: 10}
    forward: blue
  - name: test
    address: 127.0.0.1:8090
    forward: green
    body_timeout: 0s
    max_connections: 500
target_groups:
  - name: blue
    targets: [127.0.0.1:9001, "127.0.0.1:9002"]
    algorithm: least_outstanding_requests
    deregistration_delay: 30s
    response_timeout: 10s
    outlier: {consecutive_failures: 3, ejection: 10s}
    health_check:
      path: /status
      interval: 5s
      timeout: 2s
      healthy_threshold: 2
      unhealthy_threshold: 3
      matcher: "200-299"
  - name: green
    targets: 127.0.0.1:9003
`

func TestParseLBGood(t *testing.T) {
	lb, err := ParseLB("lb.yaml", []byte(goodLB))
	if err != nil {
		t.Fatalf("ParseLB: %v", err)
	}
	if lb.Admin != "127.0.0.1:9999" {
		t.Errorf("Admin = %q", lb.Admin)
	}
	if got := len(lb.Proxy.Listeners); got != 2 {
		t.Fatalf("listeners = %d, want 2", got)
	}
	prod := lb.Proxy.Listeners[0]
	if prod.Name != "production" || prod.Address != ":8080" {
		t.Errorf("production listener = %+v", prod)
	}
	want := []proxy.WeightedTargetGroup{{Name: "blue", Weight: 90}, {Name: "green", Weight: 10}}
	if got := prod.Rules[0].Forward.TargetGroups; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("rule forward = %+v, want %+v", got, want)
	}
	if got := prod.Default.TargetGroups; len(got) != 1 || got[0].Name != "blue" {
		t.Errorf("default forward = %+v", got)
	}
	if prod.BodyTimeout != 0 || prod.MaxConnections != 0 {
		t.Errorf("production limits = %s, %d; want 0, 0 (the proxy's defaults)", prod.BodyTimeout, prod.MaxConnections)
	}
	if test := lb.Proxy.Listeners[1]; test.BodyTimeout >= 0 || test.MaxConnections != 500 {
		t.Errorf("test limits = %s, %d; want negative (none), 500", test.BodyTimeout, test.MaxConnections)
	}
	blue := lb.Proxy.TargetGroups[0]
	if blue.DeregistrationDelay != 30*time.Second || blue.HealthCheck.Interval != 5*time.Second ||
		blue.HealthCheck.HealthyThreshold != 2 || blue.HealthCheck.Matcher != "200-299" ||
		blue.Algorithm != proxy.LeastOutstandingRequests || blue.Outlier.ConsecutiveFailures != 3 {
		t.Errorf("blue = %+v", blue)
	}
	if green := lb.Proxy.TargetGroups[1]; len(green.Targets) != 1 || green.Targets[0] != "127.0.0.1:9003" {
		t.Errorf("green targets = %v", green.Targets)
	}
}

func TestParseLBDefaultAdmin(t *testing.T) {
	lb, err := ParseLB("lb.yaml", []byte("listeners: [{name: p, address: ':80', forward: a}]\ntarget_groups: [{name: a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if lb.Admin != DefaultAdmin {
		t.Errorf("Admin = %q, want %q", lb.Admin, DefaultAdmin)
	}
}

func TestParseLBErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, in order of appearance
	}{
		{"empty", "", []string{"lb.yaml: file is empty"}},
		{"syntax", "listeners: [\n", []string{"lb.yaml:", "invalid YAML"}},
		{"not a mapping", "- a\n", []string{"lb.yaml:1:1: must be a mapping"}},
		{"unknown top field", "listener: []\n", []string{
			"lb.yaml:1:1: listener: unknown field; valid fields: admin, listeners, target_groups"}},
		{"unknown listener field", `
listeners:
  - name: p
    adress: ":80"
    forward: a
target_groups: [{name: a}]
`, []string{"lb.yaml:3:5: listeners[0].address: missing", "lb.yaml:4:5: listeners[0].adress: unknown field; valid fields: name, address, tls, rules, forward, fixed_response, body_timeout, max_connections"}},
		{"bad weight", `
listeners:
  - name: p
    address: ":80"
    forward: [{target_group: a, weight: 1000}]
target_groups: [{name: a}]
`, []string{"lb.yaml:5:41: listeners[0].forward[0].weight: 1000 is out of range; valid: 0-999"}},
		{"unknown group", `
listeners:
  - {name: p, address: ":80", forward: nope}
target_groups: [{name: a}, {name: b}]
`, []string{`listeners[0].forward: no target group named "nope"; defined: a, b`}},
		{"bad target", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups:
  - name: a
    targets: [localhost, "127.0.0.1:0"]
`, []string{`targets[0]: "localhost" is not a target`, `targets[1]: "127.0.0.1:0" has port "0"; valid: 1-65535`}},
		{"listener limits out of range", `
listeners: [{name: p, address: ":80", forward: a, body_timeout: 2h, max_connections: 0}]
target_groups: [{name: a}]
`, []string{"listeners[0].body_timeout: 2h0m0s is out of range; valid: 0s-1h", "listeners[0].max_connections: 0 is out of range; valid: 1-1000000"}},
		{"duration without unit", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups:
  - name: a
    deregistration_delay: 30
`, []string{`lb.yaml:5:27: target_groups[0].deregistration_delay: "30" has no unit; write e.g. 30s`}},
		{"delay out of range", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups: [{name: a, deregistration_delay: 2h}]
`, []string{"deregistration_delay: 2h0m0s is out of range; valid: 0s-1h"}},
		{"health threshold", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups:
  - name: a
    health_check:
      interval: 5s
      healthy_threshold: 11
`, []string{"lb.yaml:7:26: target_groups[0].health_check.healthy_threshold:", "2-10"}},
		{"health timeout not below interval", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups:
  - name: a
    health_check: {interval: 5s, timeout: 5s}
`, []string{"target_groups[0].health_check.timeout:", "interval"}},
		{"health matcher", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups:
  - name: a
    health_check: {matcher: "abc"}
`, []string{"target_groups[0].health_check.matcher:"}},
		{"duplicate names and addresses", `
listeners:
  - {name: p, address: ":80", forward: a}
  - {name: p, address: ":80", forward: a}
target_groups: [{name: a}, {name: a}]
`, []string{`listeners[1].name: listener "p" is defined twice`, `listeners[1].address: address ":80" is used by another listener`,
			`target_groups[1].name: target group "a" is defined twice`}},
		{"bad algorithm", `
listeners: [{name: p, address: ":80", forward: a}]
target_groups: [{name: a, algorithm: random}]
`, []string{`algorithm: "random" is not an algorithm; valid: round_robin, least_outstanding_requests`}},
		{"rule without conditions", `
listeners:
  - name: p
    address: ":80"
    forward: a
    rules: [{priority: 1, forward: a}]
target_groups: [{name: a}]
`, []string{"listeners[0].rules[0]: a rule needs hosts or paths"}},
		{"bad host and path", `
listeners:
  - name: p
    address: ":80"
    rules: [{priority: 1, hosts: ["a b"], paths: [api], forward: a}]
target_groups: [{name: a}]
`, []string{`hosts[0]: "a b" is not a host name`, `paths[0]: "api" must start with /`}},
		{"bad address", `
listeners: [{name: p, address: "8080", forward: a}]
target_groups: [{name: a}]
`, []string{`listeners[0].address: "8080" is not an address`}},
		{"no listeners", "target_groups: [{name: a}]\n", []string{"listeners: missing"}},
		{"repeated key", "listeners: []\nlisteners: []\ntarget_groups: []\n", []string{"lb.yaml:2:1: listeners: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb, err := ParseLB("lb.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseLB accepted bad input; got %+v", lb)
			}
			msg := err.Error()
			rest := msg
			for _, want := range tt.want {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("error %q\ndoes not contain (in order) %q", msg, want)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

func TestLoadLBMissingFile(t *testing.T) {
	_, err := LoadLB(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("LoadLB of a missing file: %v", err)
	}
}

func TestExampleLBFilesParse(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/*.yaml")
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "target_groups:") {
			continue // not an lb.yaml
		}
		n++
		if _, err := ParseLB(f, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if n == 0 {
		t.Fatal("no example lb.yaml found under examples/")
	}
}

func FuzzParseLB(f *testing.F) {
	f.Add([]byte(goodLB))
	f.Add([]byte("listeners: [{name: p, address: ':80', forward: a}]\ntarget_groups: [{name: a}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("listeners: *y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lb, err := ParseLB("fuzz.yaml", data)
		if err == nil && lb == nil {
			t.Fatal("nil config without an error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
