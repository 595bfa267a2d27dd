package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/health"
)

func TestFailOpenWhenEveryTargetIsUnhealthy(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	a.sick.Store(true)
	b.sick.Store(true)
	g := group("app", a.addr, b.addr)
	g.HealthCheck = fastChecks()
	p := startProxy(t, oneListener(forward("app", 1), g))

	eventually(t, "both targets unhealthy", func() bool {
		sa, _ := targetState(p, "app", a.addr)
		sb, _ := targetState(p, "app", b.addr)
		return sa.State == StateUnhealthy && sb.State == StateUnhealthy
	})
	if st, _ := targetState(p, "app", a.addr); st.Reason != health.ReasonResponseCodeMismatch {
		t.Errorf("unhealthy reason %q, want %q", st.Reason, health.ReasonResponseCodeMismatch)
	}
	c := newClient()
	seen := map[string]int{}
	for range 20 {
		code, body := get(t, c, baseURL(p, "web")+"/")
		if code != 200 {
			t.Fatalf("with every target unhealthy got %d %q; want 200 (fail open)", code, body)
		}
		seen[body]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("fail open should spread over all targets, got %v", seen)
	}
}

func TestOutlierEjectionAndReturn(t *testing.T) {
	good := newBackend(t, "good", nil)
	bad := newBackend(t, "bad", nil)
	bad.fail.Store(true)
	g := group("app", good.addr, bad.addr)
	g.HealthCheck = fastChecks()
	g.Outlier = OutlierConfig{ConsecutiveFailures: 3, Ejection: 2 * time.Second}
	p := startProxy(t, oneListener(forward("app", 1), g))
	url := baseURL(p, "web") + "/"
	eventually(t, "both targets healthy", func() bool {
		sa, _ := targetState(p, "app", good.addr)
		sb, _ := targetState(p, "app", bad.addr)
		return sa.State == StateHealthy && sb.State == StateHealthy
	})

	c := newClient()
	failures := 0
	for range 10 {
		if code, _ := get(t, c, url); code != 200 {
			failures++
		}
	}
	if failures != 3 {
		t.Errorf("%d requests failed before ejection, want exactly ConsecutiveFailures=3", failures)
	}
	st, _ := targetState(p, "app", bad.addr)
	if st.State != StateUnhealthy || st.Reason != ReasonEjected {
		t.Fatalf("failing target is %+v, want unhealthy/%s", st, ReasonEjected)
	}
	for range 10 {
		if code, body := get(t, c, url); code != 200 || body != "good" {
			t.Fatalf("while ejected got %d %q, want 200 good", code, body)
		}
	}

	// The target recovers; once the ejection is over and its health check
	// still passes, it gets traffic again.
	bad.fail.Store(false)
	hits := bad.hits.Load()
	eventually(t, "the recovered target to get traffic again", func() bool {
		get(t, c, url)
		return bad.hits.Load() > hits
	})
}

func TestLastRoutableTargetIsNeverEjected(t *testing.T) {
	bad := newBackend(t, "bad", nil)
	bad.fail.Store(true)
	g := group("app", bad.addr)
	g.Outlier = OutlierConfig{ConsecutiveFailures: 2, Ejection: time.Minute}
	p := startProxy(t, oneListener(forward("app", 1), g))
	c := newClient()
	for range 10 {
		// The target's own 500s reach the client; never a 503.
		if code, body := get(t, c, baseURL(p, "web")+"/"); code != 500 {
			t.Fatalf("got %d %q, want the target's own 500", code, body)
		}
	}
}

func TestDialErrorIsRetriedOnAnotherTarget(t *testing.T) {
	good := newBackend(t, "good", nil)
	dead := closedAddr(t)
	g := group("app", dead, good.addr)
	g.Outlier.ConsecutiveFailures = -1 // keep the dead target in rotation
	other := group("other", closedAddr(t))
	other.Outlier.ConsecutiveFailures = -1
	p := startProxy(t, oneListener(forward("app", 1), g, other))
	url := baseURL(p, "web") + "/"
	c := newClient()
	for i := range 40 {
		if code, body := get(t, c, url); code != 200 || body != "good" {
			t.Fatalf("request %d: got %d %q, want 200 good (retried)", i, code, body)
		}
		// A POST body is sent only once it reached nobody: it survives
		// the retry.
		resp, err := c.Post(url, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %d: got %d, want 200 (retried)", i, resp.StatusCode)
		}
	}

	// The retry may go to another group of the same forward action.
	mustApply(t, p, oneListener(forward("other", 1, "app2", 1), other, group("app2", good.addr)))
	for i := range 20 {
		if code, body := get(t, c, url); code != 200 || body != "good" {
			t.Fatalf("request %d across groups: got %d %q, want 200 good", i, code, body)
		}
	}
}

func TestErrorResponses(t *testing.T) {
	dead := closedAddr(t)
	slow := newBackend(t, "slow", func(mux *http.ServeMux) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		})
	})
	deadGroup := group("dead", dead)
	slowGroup := group("slow", slow.addr)
	slowGroup.ResponseTimeout = 200 * time.Millisecond
	slowGroup.Outlier.ConsecutiveFailures = -1
	cfg := Config{
		Listeners: []ListenerConfig{{
			Name: "web", Address: "127.0.0.1:0",
			Rules: []RuleConfig{
				{Priority: 1, PathPrefixes: []string{"/dead"}, Forward: forward("dead", 1)},
				{Priority: 2, PathPrefixes: []string{"/empty"}, Forward: forward("empty", 1)},
				{Priority: 3, PathPrefixes: []string{"/slow"}, Forward: forward("slow", 1)},
			},
		}},
		TargetGroups: []TargetGroupConfig{deadGroup, slowGroup, group("empty")},
	}
	p := startProxy(t, cfg)
	c := newClient()
	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/dead", 502, "502 Bad Gateway: target " + dead + " failed: connection refused\n"},
		{"/empty", 503, "503 Service Unavailable: no healthy target\n"},
		{"/nowhere", 503, "503 Service Unavailable: no route for this request\n"},
		{"/slow", 504, "504 Gateway Timeout: target " + slow.addr + " sent no response within 200ms\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, c, baseURL(p, "web")+tt.path)
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("GET %s: %d %q, want %d %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	for _, g := range []string{"dead", "slow"} {
		if w := p.Metrics().Window(g, time.Minute); w.Errors != 1 {
			t.Errorf("metrics window of %s: %+v, want 1 error", g, w)
		}
	}
}

func TestResponseTimeoutDoesNotCutStreams(t *testing.T) {
	// ResponseTimeout bounds the wait for headers only: a body that
	// streams for longer is fine.
	b := newBackend(t, "stream", func(mux *http.ServeMux) {
		mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
			for i := range 5 {
				io.WriteString(w, "chunk\n")
				http.NewResponseController(w).Flush()
				if i < 4 {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	})
	g := group("app", b.addr)
	g.ResponseTimeout = 200 * time.Millisecond
	p := startProxy(t, oneListener(forward("app", 1), g))
	code, body := get(t, newClient(), baseURL(p, "web")+"/stream")
	if code != 200 || body != strings.Repeat("chunk\n", 5) {
		t.Fatalf("got %d %q, want the whole 500ms stream", code, body)
	}
}

func TestApplyKeepsOldConfigOnError(t *testing.T) {
	a := newBackend(t, "a", nil)
	p := startProxy(t, oneListener(forward("app", 1), group("app", a.addr)))
	url := baseURL(p, "web") + "/"
	c := newClient()

	t.Run("port in use", func(t *testing.T) {
		busy := newBackend(t, "busy", nil) // holds its port
		free := closedAddr(t)
		cfg := oneListener(forward("app", 1), group("app", a.addr))
		cfg.Listeners = append(cfg.Listeners,
			ListenerConfig{Name: "other", Address: free, Default: forward("app", 1)},
			ListenerConfig{Name: "production", Address: busy.addr, Default: forward("app", 1)},
		)
		cfg.TargetGroups[0].Targets = nil // would make the app group empty
		err := p.Apply(context.Background(), cfg)
		want := "listener production: listening on " + busy.addr + ": address already in use"
		if err == nil || err.Error() != want {
			t.Fatalf("Apply: %v, want %q", err, want)
		}
		if code, body := get(t, c, url); code != 200 || body != "a" {
			t.Fatalf("old config no longer serves: %d %q", code, body)
		}
		if p.Addr("other") != nil {
			t.Error("listener other exists after a failed Apply")
		}
		ln, err := netListen(free)
		if err != nil {
			t.Fatalf("the socket bound for listener other was not closed: %v", err)
		}
		ln.Close()
	})

	t.Run("invalid config", func(t *testing.T) {
		cfg := oneListener(forward("app", 1000), group("app", a.addr))
		err := p.Apply(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), `listener "web": default: forward: target group "app": weight 1000 is out of range; valid: 0-999`) {
			t.Fatalf("Apply: %v, want a weight range error", err)
		}
		if code, body := get(t, c, url); code != 200 || body != "a" {
			t.Fatalf("old config no longer serves: %d %q", code, body)
		}
	})
}

func TestTargetsShowHealthTransitions(t *testing.T) {
	a := newBackend(t, "a", nil)
	g := group("app", a.addr)
	g.HealthCheck = fastChecks()
	g.HealthCheck.Interval = time.Second
	p := startProxy(t, oneListener(forward("app", 1), g))

	// Two passes about a second apart are needed, so right after Apply
	// the target is still initial and gets no traffic.
	st, ok := targetState(p, "app", a.addr)
	if !ok || st.State != StateInitial || st.Reason != health.ReasonInitialHealthChecking {
		t.Fatalf("right after Apply: %+v, want initial", st)
	}
	if code, _ := get(t, newClient(), baseURL(p, "web")+"/"); code != 503 {
		t.Errorf("initial target got traffic: %d, want 503", code)
	}
	eventually(t, "target healthy", func() bool {
		st, _ := targetState(p, "app", a.addr)
		return st.State == StateHealthy
	})
	if code, body := get(t, newClient(), baseURL(p, "web")+"/"); code != 200 || body != "a" {
		t.Errorf("healthy target: %d %q, want 200 a", code, body)
	}
	a.sick.Store(true)
	eventually(t, "target unhealthy", func() bool {
		st, _ := targetState(p, "app", a.addr)
		return st.State == StateUnhealthy
	})
}

func TestAssumeHealthyTargetsServeAtOnce(t *testing.T) {
	a := newBackend(t, "a", nil)
	g := group("app", a.addr)
	g.HealthCheck = fastChecks()
	g.AssumeHealthy = []string{a.addr}
	p := startProxy(t, oneListener(forward("app", 1), g))
	if code, body := get(t, newClient(), baseURL(p, "web")+"/"); code != 200 || body != "a" {
		t.Fatalf("assumed-healthy target: %d %q, want 200 a", code, body)
	}
	a.sick.Store(true)
	eventually(t, "assumed-healthy target demoted by its checks", func() bool {
		st, _ := targetState(p, "app", a.addr)
		return st.State == StateUnhealthy
	})
}
