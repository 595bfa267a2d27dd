package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/health"
)

// backend is a real HTTP server on 127.0.0.1 that answers with its name.
// /health answers 200 unless sick is set.
type backend struct {
	name string
	addr string
	srv  *httptest.Server
	hits atomic.Int64
	sick atomic.Bool // /health answers 500
	fail atomic.Bool // every other path answers 500
}

func newBackend(t *testing.T, name string, extra func(mux *http.ServeMux)) *backend {
	t.Helper()
	b := &backend{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if b.sick.Load() {
			http.Error(w, "sick", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		if b.fail.Load() {
			http.Error(w, name+" failing", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, name)
	})
	if extra != nil {
		extra(mux)
	}
	b.srv = httptest.NewServer(mux)
	b.addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.srv.Close)
	return b
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fastChecks is a health check fast enough for tests: healthy after two
// passes 500ms apart.
func fastChecks() health.Config {
	return health.Config{Path: "/health", Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}
}

func noChecks() health.Config { return health.Config{Disabled: true} }

// group is a target group with checks off and a short drain, to be
// adjusted by the test.
func group(name string, targets ...string) TargetGroupConfig {
	return TargetGroupConfig{
		Name: name, Targets: targets, HealthCheck: noChecks(),
		DeregistrationDelay: 5 * time.Second,
	}
}

func forward(weights ...any) ForwardConfig {
	var fc ForwardConfig
	for i := 0; i < len(weights); i += 2 {
		fc.TargetGroups = append(fc.TargetGroups, WeightedTargetGroup{Name: weights[i].(string), Weight: weights[i+1].(int)})
	}
	return fc
}

// oneListener is a Config with a plain listener on a free port whose
// default forwards to fc.
func oneListener(fc ForwardConfig, groups ...TargetGroupConfig) Config {
	return Config{
		Listeners:    []ListenerConfig{{Name: "web", Address: "127.0.0.1:0", Default: fc}},
		TargetGroups: groups,
	}
}

func startProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p := New(Options{Logger: testLogger(t)})
	if err := p.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

func mustApply(t *testing.T, p *Proxy, cfg Config) {
	t.Helper()
	if err := p.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
}

func baseURL(p *Proxy, listener string) string {
	return "http://" + p.Addr(listener).String()
}

// get does a GET and returns status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func targetState(p *Proxy, group, addr string) (TargetState, bool) {
	for _, s := range p.Targets() {
		if s.Group == group && s.Target == addr {
			return s, true
		}
	}
	return TargetState{}, false
}

// load hammers url from n goroutines with keep-alive clients until stop is
// closed, and reports failed requests (errors or non-200) and bodies seen.
type loadResult struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
}

func hammer(t *testing.T, url string, n int, stop <-chan struct{}) (res *loadResult, wait func()) {
	t.Helper()
	res = &loadResult{}
	done := make(chan struct{})
	var running atomic.Int64
	running.Store(int64(n))
	for range n {
		go func() {
			defer func() {
				if running.Add(-1) == 0 {
					close(done)
				}
			}()
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
					res.failed.Add(1)
					res.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					res.failed.Add(1)
					res.firstErr.CompareAndSwap(nil, resp.Status+": "+string(body))
					continue
				}
				res.ok.Add(1)
			}
		}()
	}
	return res, func() { <-done }
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}
