package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

func TestPreviewNames(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		parent string
		t      Trigger
		name   string
		host   string
	}{
		{"hello", Trigger{Kind: KindPullRequest, PR: &PullRequest{Number: 42}}, "hello-pr-42", "pr-42.hello.example.com"},
		{"hello", Trigger{Kind: KindPush, Ref: "refs/heads/Feature/Login_Page"}, "hello-feature-login-page", "feature-login-page.hello.example.com"},
		{"hello", Trigger{Kind: KindPush, Ref: "refs/heads/__"}, "hello-branch", "branch.hello.example.com"},
		{long, Trigger{Kind: KindPullRequest, PR: &PullRequest{Number: 7}}, long[:54] + "-", "pr-7.hello.example.com"},
	}
	for _, tt := range tests {
		label := previewLabel(tt.t)
		name := PreviewName(tt.parent, label)
		if !appNameRE.MatchString(name) || !strings.HasPrefix(name, tt.name) {
			t.Errorf("PreviewName(%s, %s) = %q, want a valid app name starting %q", tt.parent, label, name, tt.name)
		}
		if host := previewHost("*.hello.example.com", label); host != tt.host {
			t.Errorf("host of %s = %q, want %q", label, host, tt.host)
		}
	}
	// Long branch names that share a beginning stay apart, and fit a DNS label.
	a := previewLabel(Trigger{Kind: KindPush, Ref: "refs/heads/" + long + "-one"})
	b := previewLabel(Trigger{Kind: KindPush, Ref: "refs/heads/" + long + "-two"})
	if a == b || len(a) > 63 || !dnsLabelRE.MatchString(a) {
		t.Errorf("long branches: %q and %q", a, b)
	}
	if n1, n2 := PreviewName(long, "pr-1"), PreviewName(long, "pr-2"); n1 == n2 || len(n1) > 63 {
		t.Errorf("long parent: %q and %q", n1, n2)
	}
}

func TestPreviewSettingsCheck(t *testing.T) {
	tests := []struct {
		set  Preview
		want string // "" valid
	}{
		{Preview{Domain: "*.hello.example.com"}, ""},
		{Preview{Domain: "*.hello.example.com", Count: 2, Limit: 3, Idle: time.Hour, Env: map[string]string{"MODE": "preview"}, TestListener: ":8091"}, ""},
		{Preview{Domain: "hello.example.com"}, `preview.domain "hello.example.com": valid: a wildcard`},
		{Preview{Domain: "*.Hello.example.com"}, "preview.domain"},
		{Preview{Domain: "*.com"}, "preview.domain"},
		{Preview{Domain: "*.hello.example.com", Count: -1}, "preview.count -1: valid: 1-100"},
		{Preview{Domain: "*.hello.example.com", Limit: 1000}, "preview.limit 1000: valid: 1-100"},
		{Preview{Domain: "*.hello.example.com", Idle: time.Second}, "preview.idle 1s: valid: at least 1m"},
		{Preview{Domain: "*.hello.example.com", Env: map[string]string{"1X": "y"}}, `preview.env: "1X" is not a variable name`},
		{Preview{Domain: "*.hello.example.com", TestListener: "8091"}, "preview.test_listener"},
		{Preview{Domain: "*.hello.example.com", Branches: &Patterns{}}, "preview.branches: give includes or excludes"},
	}
	for _, tt := range tests {
		err := tt.set.Check()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Check(%+v) = %v, want %q", tt.set, err, tt.want)
		}
	}
}

func TestPreviewConfig(t *testing.T) {
	parent := config.App{Name: "hello", Listeners: config.Listeners{Production: ":8080", Test: ":8090", Hosts: []string{"hello.example.com"}}}
	parent.Service.Count, parent.Service.Env = 3, map[string]string{"MODE": "production", "KEEP": "1"}
	pv := store.Preview{App: "hello-pr-42", Host: "pr-42.hello.example.com"}
	cfg := previewConfig(parent, pv, Preview{Domain: "*.hello.example.com", Env: map[string]string{"MODE": "preview"}})
	if cfg.Name != "hello-pr-42" || cfg.Service.Count != 1 || cfg.Listeners.Test != "" || len(cfg.Listeners.Hosts) != 1 || cfg.Listeners.Hosts[0] != pv.Host ||
		cfg.Service.Env["MODE"] != "preview" || cfg.Service.Env["KEEP"] != "1" {
		t.Errorf("previewConfig = %+v", cfg)
	}
	if parent.Service.Env["MODE"] != "production" || parent.Listeners.Hosts[0] != "hello.example.com" {
		t.Errorf("previewConfig changed the parent's configuration: %+v", parent)
	}
	if u := previewURL(parent, pv.Host); u != "http://pr-42.hello.example.com:8080" {
		t.Errorf("previewURL = %q", u)
	}
	parent.Listeners.Production, parent.Listeners.TLS = ":443", config.TLSAuto
	if u := previewURL(parent, pv.Host); u != "https://pr-42.hello.example.com" {
		t.Errorf("previewURL with TLS on :443 = %q", u)
	}
}

func TestIdlePreviews(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	list := []store.Preview{
		{App: "a", UpdatedAt: now.Add(-73 * time.Hour), Status: store.PreviewDeployed},
		{App: "b", UpdatedAt: now.Add(-71 * time.Hour), Status: store.PreviewDeployed},
		{App: "c", UpdatedAt: now.Add(-72 * time.Hour), Status: store.PreviewFailed},
		{App: "d", UpdatedAt: now.Add(-100 * time.Hour), Status: store.PreviewDestroying}, // already going
	}
	var got []string
	for _, p := range idlePreviews(list, 72*time.Hour, now) {
		got = append(got, p.App)
	}
	if strings.Join(got, ",") != "a,c" {
		t.Errorf("idle after 72h: %v, want a, c", got)
	}
	if idle := idlePreviews(list, -1, now); len(idle) != 0 {
		t.Errorf("idle never: %v", idle)
	}
}
