package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const maintenancePage = "<!doctype html><title>Down for maintenance</title><h1>Back soon</h1>\n"

func maintenance() *FixedResponseConfig {
	return &FixedResponseConfig{StatusCode: 503, ContentType: "text/html; charset=utf-8", Body: maintenancePage, RetryAfter: 300}
}

// TestFixedResponseThenForwardOnTheSameConnection turns a listener's
// default into a fixed response and back: requests get the page with
// its headers and never reach the target, whose health checks go on;
// the client's keep-alive connection carries on across both Applies.
func TestFixedResponseThenForwardOnTheSameConnection(t *testing.T) {
	var checks atomic.Int64
	b := newBackend(t, "app", func(mux *http.ServeMux) {
		mux.HandleFunc("/check", func(w http.ResponseWriter, r *http.Request) { checks.Add(1) })
	})
	tg := group("app", b.addr)
	tg.HealthCheck = fastChecks()
	tg.HealthCheck.Path = "/check"
	cfg := oneListener(ForwardConfig{}, tg)
	cfg.Listeners[0].DefaultFixedResponse = maintenance()
	p := startProxy(t, cfg)
	url := baseURL(p, "web") + "/orders"
	c := newClient()

	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) }}
	do := func(method string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		return resp, readAll(t, resp)
	}

	for _, method := range []string{"GET", "POST", "HEAD"} {
		resp, body := do(method)
		want := maintenancePage
		if method == "HEAD" {
			want = ""
		}
		if resp.StatusCode != 503 || body != want {
			t.Errorf("%s in maintenance: %s %q, want 503 with the page", method, resp.Status, body)
		}
		for h, v := range map[string]string{"Retry-After": "300", "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"} {
			if got := resp.Header.Get(h); got != v {
				t.Errorf("%s in maintenance: %s: %q, want %q", method, h, got, v)
			}
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Errorf("the target got %d requests in maintenance, want 0", n)
	}
	eventually(t, "the target to pass its health checks in maintenance", func() bool {
		s, _ := targetState(p, "app", b.addr)
		return s.State == StateHealthy && checks.Load() >= 2
	})

	cfg.Listeners[0].DefaultFixedResponse = nil
	cfg.Listeners[0].Default = forward("app", 1)
	mustApply(t, p, cfg)
	if resp, body := do("GET"); resp.StatusCode != 200 || body != "app" {
		t.Errorf("after maintenance: %s %q, want 200 app", resp.Status, body)
	}
	for i, r := range reused[1:] {
		if !r {
			t.Errorf("request %d opened a new connection; the keep-alive one should carry on", i+2)
		}
	}
	if m := scrape(t, p); !strings.Contains(m, `cutover_fixed_responses_total{listener="web",code="503"} 3`) {
		t.Errorf("metrics lack 3 fixed responses on web:\n%s", m)
	}
}

// TestFixedResponseOnOneHostRule: apps sharing a listener by host each
// have their own action; one in maintenance leaves the other served.
func TestFixedResponseOnOneHostRule(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	cfg := Config{
		Listeners: []ListenerConfig{{Name: "web", Address: "127.0.0.1:0", Rules: []RuleConfig{
			{Priority: 1, Hosts: []string{"a.example.com"}, FixedResponse: &FixedResponseConfig{StatusCode: 503, Body: "a is down\n"}},
			{Priority: 2, Hosts: []string{"b.example.com"}, Forward: forward("b", 1)},
		}}},
		TargetGroups: []TargetGroupConfig{group("a", a.addr), group("b", b.addr)},
	}
	p := startProxy(t, cfg)
	c := newClient()
	for host, want := range map[string]string{"a.example.com": "503 a is down\n", "b.example.com": "200 b"} {
		req, _ := http.NewRequest("GET", baseURL(p, "web")+"/", nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if got := fmt.Sprintf("%d %s", resp.StatusCode, body); got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
		if host == "a.example.com" && resp.Header.Get("Retry-After") != "" {
			t.Errorf("%s: Retry-After %q without a retry_after", host, resp.Header.Get("Retry-After"))
		}
		if host == "a.example.com" && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q, want the plain-text default", host, resp.Header.Get("Content-Type"))
		}
	}
}

// TestFixedResponseTogglesUnderLoad switches between forwarding and a
// fixed response while keep-alive clients send requests: every answer is
// one or the other, and no request fails at the connection level.
func TestFixedResponseTogglesUnderLoad(t *testing.T) {
	b := newBackend(t, "app", nil)
	cfg := oneListener(forward("app", 1), group("app", b.addr))
	p := startProxy(t, cfg)
	url := baseURL(p, "web") + "/"

	var ok, fixed, other, connErrs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err != nil {
					connErrs.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					connErrs.Add(1)
				case resp.StatusCode == 200 && string(body) == "app":
					ok.Add(1)
				case resp.StatusCode == 503 && string(body) == maintenancePage && resp.Header.Get("Retry-After") == "300":
					fixed.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	for i := range 40 {
		cfg.Listeners[0].Default, cfg.Listeners[0].DefaultFixedResponse = forward("app", 1), nil
		if i%2 == 0 {
			cfg.Listeners[0].Default, cfg.Listeners[0].DefaultFixedResponse = ForwardConfig{}, maintenance()
		}
		mustApply(t, p, cfg)
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d forwarded, %d fixed, %d other, %d connection errors", ok.Load(), fixed.Load(), other.Load(), connErrs.Load())
	if connErrs.Load() != 0 || other.Load() != 0 {
		t.Errorf("%d connection errors and %d unexpected answers, want 0 and 0", connErrs.Load(), other.Load())
	}
	if ok.Load() == 0 || fixed.Load() == 0 {
		t.Errorf("%d forwarded and %d fixed answers: the load did not see both", ok.Load(), fixed.Load())
	}
}

func TestValidateFixedResponse(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ListenerConfig)
		want   string
	}{
		{"both on default", func(l *ListenerConfig) { l.Default = forward("app", 1) }, `listener "web": default: forward and fixed_response are both set`},
		{"both on a rule", func(l *ListenerConfig) {
			l.Rules = []RuleConfig{{Priority: 1, Hosts: []string{"a.example.com"}, Forward: forward("app", 1), FixedResponse: maintenance()}}
		}, `rule 1 (priority 1): forward and fixed_response are both set`},
		{"status", func(l *ListenerConfig) { l.DefaultFixedResponse.StatusCode = 600 }, "status_code 600 is out of range; valid: 200-599"},
		{"no status", func(l *ListenerConfig) { l.DefaultFixedResponse.StatusCode = 0 }, "status_code 0 is out of range"},
		{"content type", func(l *ListenerConfig) { l.DefaultFixedResponse.ContentType = "text/html\r\nSet-Cookie: x=1" }, "content_type"},
		{"content type without subtype", func(l *ListenerConfig) { l.DefaultFixedResponse.ContentType = "html" }, `content_type "html": valid: a media type`},
		{"body size", func(l *ListenerConfig) { l.DefaultFixedResponse.Body = strings.Repeat("x", MaxFixedResponseBody+1) }, "body is 1048577 bytes; valid: at most 1048576"},
		{"body encoding", func(l *ListenerConfig) { l.DefaultFixedResponse.Body = "\xff\xfe" }, "body is not UTF-8"},
		{"retry after", func(l *ListenerConfig) { l.DefaultFixedResponse.RetryAfter = -1 }, "retry_after -1 is out of range; valid: 0-86400"},
		{"retry after big", func(l *ListenerConfig) { l.DefaultFixedResponse.RetryAfter = MaxRetryAfter + 1 }, "retry_after 86401 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oneListener(ForwardConfig{}, group("app", "127.0.0.1:9001"))
			cfg.Listeners[0].DefaultFixedResponse = maintenance()
			if err := cfg.Validate(); err != nil {
				t.Fatalf("valid config: %v", err)
			}
			tt.change(&cfg.Listeners[0])
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
