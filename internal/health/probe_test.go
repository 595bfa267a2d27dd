package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// These tests check real targets: HTTP servers on 127.0.0.1, through the
// Checker returned by NewChecker, with the shortest interval cutover
// allows.

// httpConfig is a fast config: a check every 500ms, healthy or unhealthy
// after two results in a row.
func httpConfig() Config {
	return Config{Interval: 500 * time.Millisecond, Timeout: 200 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}
}

// seen is what a test server saw of the last check request.
type seen struct {
	mu        sync.Mutex
	uri       string
	host      string
	userAgent string
	close     bool
}

// newServer starts a server on 127.0.0.1 that answers code and records the
// request in the returned seen.
func newServer(t *testing.T, code int) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uri, s.host, s.userAgent, s.close = r.RequestURI, r.Host, r.UserAgent(), r.Close
		s.mu.Unlock()
		w.WriteHeader(code)
		w.Write([]byte("some body"))
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// waitStatus polls c until addr has status want, and returns its Result.
func waitStatus(t *testing.T, c *Checker, addr string, want Status) Result {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range c.Targets() {
			if r.Target == addr && r.Status == want {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become %s; targets: %+v", addr, want, c.Targets())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHTTPHealthy(t *testing.T) {
	t.Parallel()
	srv, seen := newServer(t, http.StatusOK)
	changes := make(chan Result, 10)
	c := NewChecker(httpConfig(), func(r Result) { changes <- r })
	defer c.Close()

	addr := srv.Listener.Addr().String()
	c.Add(addr)
	r := waitStatus(t, c, addr, StatusHealthy)
	if r.Code != 200 || r.Err != nil || r.Reason != "" {
		t.Errorf("healthy result %+v, want code 200, no error, no reason", r)
	}
	if got := <-changes; got.Target != addr || got.Status != StatusHealthy {
		t.Errorf("onChange got %+v, want %s healthy", got, addr)
	}

	seen.mu.Lock()
	defer seen.mu.Unlock()
	if seen.uri != "/" || seen.host != addr || seen.userAgent != "cutover-health/1" {
		t.Errorf("server saw GET %s Host %s User-Agent %q, want GET / Host %s User-Agent cutover-health/1", seen.uri, seen.host, seen.userAgent, addr)
	}
	if !seen.close {
		t.Error("check did not ask to close the connection")
	}
}

func TestHTTPPathAndHost(t *testing.T) {
	t.Parallel()
	srv, seen := newServer(t, http.StatusOK)
	cfg := httpConfig()
	cfg.Path = "/status?full=1"
	cfg.Host = "app.example.com"
	c := NewChecker(cfg, nil)
	defer c.Close()

	addr := srv.Listener.Addr().String()
	c.Add(addr)
	waitStatus(t, c, addr, StatusHealthy)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if seen.uri != "/status?full=1" || seen.host != "app.example.com" {
		t.Errorf("server saw GET %s Host %s, want GET /status?full=1 Host app.example.com", seen.uri, seen.host)
	}
}

func TestHTTPPortOverride(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, http.StatusOK)
	cfg := httpConfig()
	cfg.Port = srv.Listener.Addr().(*net.TCPAddr).Port
	c := NewChecker(cfg, nil)
	defer c.Close()

	// The traffic port is closed; only the health-check port answers.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(closedPort(t)))
	c.Add(addr)
	waitStatus(t, c, addr, StatusHealthy)
}

func TestHTTPUnhealthy(t *testing.T) {
	t.Parallel()
	errorSrv, _ := newServer(t, http.StatusInternalServerError)
	hangSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hangSrv.Close)
	closedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(closedPort(t)))

	tests := []struct {
		name       string
		addr       string
		wantReason string
		wantCode   int
	}{
		{"error status", errorSrv.Listener.Addr().String(), ReasonResponseCodeMismatch, 500},
		{"closed port", closedAddr, ReasonFailedHealthChecks, 0},
		{"no response", hangSrv.Listener.Addr().String(), ReasonTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewChecker(httpConfig(), nil)
			defer c.Close()
			c.Add(tt.addr)
			r := waitStatus(t, c, tt.addr, StatusUnhealthy)
			if r.Reason != tt.wantReason || r.Code != tt.wantCode || r.Err == nil {
				t.Errorf("result %+v, want reason %s, code %d and an error", r, tt.wantReason, tt.wantCode)
			}
			t.Logf("error: %v", r.Err)
		})
	}
}

func TestHTTPRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var followed bool
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		followed = true
		mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	c := NewChecker(httpConfig(), nil)
	defer c.Close()
	addr := srv.Listener.Addr().String()
	c.Add(addr)
	r := waitStatus(t, c, addr, StatusUnhealthy)
	if r.Code != http.StatusFound || r.Reason != ReasonResponseCodeMismatch {
		t.Errorf("result %+v, want code 302 and %s", r, ReasonResponseCodeMismatch)
	}
	mu.Lock()
	defer mu.Unlock()
	if followed {
		t.Error("the check followed the redirect")
	}
}

func TestHTTPRecovers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	code := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)

	cfg := httpConfig()
	cfg.Matcher = "200-299"
	c := NewChecker(cfg, nil)
	defer c.Close()
	addr := srv.Listener.Addr().String()
	c.Add(addr)
	waitStatus(t, c, addr, StatusUnhealthy)

	mu.Lock()
	code = http.StatusNoContent
	mu.Unlock()
	r := waitStatus(t, c, addr, StatusHealthy)
	if r.Code != http.StatusNoContent {
		t.Errorf("code %d, want 204", r.Code)
	}
}

func TestHTTPRemoveCancelsCheck(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
		ended <- r.Context().Err()
	}))
	t.Cleanup(srv.Close)

	cfg := httpConfig()
	cfg.Interval, cfg.Timeout = time.Minute, 50*time.Second
	c := NewChecker(cfg, nil)
	defer c.Close()
	addr := srv.Listener.Addr().String()
	c.Add(addr)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no check started after Add")
	}
	c.Remove(addr)
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("server saw %v, want the check cancelled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check in flight went on after Remove")
	}
}
