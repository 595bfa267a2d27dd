package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/proxy"
)

func TestParseLBFixedResponse(t *testing.T) {
	lb, err := ParseLB("lb.yaml", []byte(`
listeners:
  - name: production
    address: ":8080"
    rules:
      - priority: 1
        hosts: [old.example.com]
        fixed_response: {status_code: 410, body: "gone\n"}
    fixed_response:
      status_code: 503
      content_type: text/html; charset=utf-8
      body: "<h1>Back soon</h1>"
      retry_after: 300
target_groups: [{name: a}]
`))
	if err != nil {
		t.Fatalf("ParseLB: %v", err)
	}
	l := lb.Proxy.Listeners[0]
	want := &proxy.FixedResponseConfig{StatusCode: 503, ContentType: "text/html; charset=utf-8", Body: "<h1>Back soon</h1>", RetryAfter: 300}
	if !reflect.DeepEqual(l.DefaultFixedResponse, want) || len(l.Default.TargetGroups) != 0 {
		t.Errorf("default: %+v, forward %+v; want %+v", l.DefaultFixedResponse, l.Default, want)
	}
	if r := l.Rules[0]; !reflect.DeepEqual(r.FixedResponse, &proxy.FixedResponseConfig{StatusCode: 410, Body: "gone\n"}) {
		t.Errorf("rule: %+v", r.FixedResponse)
	}
	if err := lb.Proxy.Validate(); err != nil {
		t.Errorf("the proxy refuses it: %v", err)
	}
}

func TestParseLBFixedResponseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"both on a listener", `
listeners: [{name: p, address: ":80", forward: a, fixed_response: {status_code: 503}}]
target_groups: [{name: a}]
`, "listeners[0].forward: and fixed_response are both set; give one of them"},
		{"both on a rule", `
listeners:
  - name: p
    address: ":80"
    forward: a
    rules: [{priority: 1, paths: [/x], forward: a, fixed_response: {status_code: 503}}]
target_groups: [{name: a}]
`, "listeners[0].rules[0].forward: and fixed_response are both set"},
		{"no status", `
listeners: [{name: p, address: ":80", fixed_response: {body: down}}]
target_groups: [{name: a}]
`, "listeners[0].fixed_response.status_code: missing"},
		{"status range", `
listeners: [{name: p, address: ":80", fixed_response: {status_code: 600}}]
target_groups: [{name: a}]
`, "listeners[0].fixed_response.status_code: 600 is out of range; valid: 200-599"},
		{"content type", `
listeners: [{name: p, address: ":80", fixed_response: {status_code: 503, content_type: "html"}}]
target_groups: [{name: a}]
`, `listeners[0].fixed_response.content_type: "html" is not a media type`},
		{"retry after", `
listeners: [{name: p, address: ":80", fixed_response: {status_code: 503, retry_after: 86401}}]
target_groups: [{name: a}]
`, "listeners[0].fixed_response.retry_after: 86401 is out of range; valid: 0-86400"},
		{"unknown field", `
listeners: [{name: p, address: ":80", fixed_response: {status_code: 503, headers: {}}}]
target_groups: [{name: a}]
`, "listeners[0].fixed_response.headers: unknown field; valid fields: status_code, content_type, body, retry_after"},
		{"body size", `
listeners: [{name: p, address: ":80", fixed_response: {status_code: 503, body: "` + strings.Repeat("x", proxy.MaxFixedResponseBody+1) + `"}}]
target_groups: [{name: a}]
`, "listeners[0].fixed_response.body: is 1048577 bytes; valid: at most 1048576 (1 MiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLB("lb.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseLB: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
