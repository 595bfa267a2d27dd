package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	valid := func() Config {
		return Config{
			Listeners: []ListenerConfig{{
				Name: "production", Address: ":8080",
				Rules:   []RuleConfig{{Priority: 1, Hosts: []string{"*.example.com"}, PathPrefixes: []string{"/api"}, Forward: forward("blue", 100, "green", 0)}},
				Default: forward("blue", 1),
			}},
			TargetGroups: []TargetGroupConfig{group("blue", "127.0.0.1:9001"), group("green", "10.0.0.2:9001")},
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no listener", func(c *Config) { c.Listeners = nil }, "at least one listener"},
		{"duplicate listener", func(c *Config) { c.Listeners = append(c.Listeners, c.Listeners[0]) }, `listener "production": name: used twice`},
		{"bad address", func(c *Config) { c.Listeners[0].Address = "8080" }, `listener "production": address "8080"`},
		{"shared address", func(c *Config) {
			c.Listeners = append(c.Listeners, ListenerConfig{Name: "test", Address: ":8080"})
		}, `listener "test": address ":8080": also used by listener "production"`},
		{"tls without key", func(c *Config) { c.Listeners[0].TLS = &TLSConfig{CertFile: "c.pem"} }, "cert_file and key_file are both required"},
		{"weight", func(c *Config) { c.Listeners[0].Rules[0].Forward.TargetGroups[0].Weight = 1000 }, `rule 1 (priority 1): forward: target group "blue": weight 1000 is out of range; valid: 0-999`},
		{"unknown group", func(c *Config) { c.Listeners[0].Default = forward("red", 1) }, `default: forward: target group "red" does not exist`},
		{"priority twice", func(c *Config) {
			c.Listeners[0].Rules = append(c.Listeners[0].Rules, c.Listeners[0].Rules[0])
		}, "priority: used twice"},
		{"priority range", func(c *Config) { c.Listeners[0].Rules[0].Priority = 0 }, "priority: out of range; valid: 1-50000"},
		{"rule without group", func(c *Config) { c.Listeners[0].Rules[0].Forward = ForwardConfig{} }, "forward: no target group"},
		{"bad host", func(c *Config) { c.Listeners[0].Rules[0].Hosts = []string{"a.*.com"} }, `host "a.*.com"`},
		{"bad path", func(c *Config) { c.Listeners[0].Rules[0].PathPrefixes = []string{"api"} }, `path prefix "api"`},
		{"duplicate group", func(c *Config) { c.TargetGroups = append(c.TargetGroups, group("blue")) }, `target group "blue": name: used twice`},
		{"target without port", func(c *Config) { c.TargetGroups[0].Targets = []string{"127.0.0.1"} }, `target group "blue": target "127.0.0.1"`},
		{"target port 0", func(c *Config) { c.TargetGroups[0].Targets = []string{"127.0.0.1:0"} }, `valid: 1-65535`},
		{"algorithm", func(c *Config) { c.TargetGroups[0].Algorithm = "random" }, `algorithm: "random" is invalid`},
		{"health check", func(c *Config) {
			c.TargetGroups[0].HealthCheck = fastChecks()
			c.TargetGroups[0].HealthCheck.HealthyThreshold = 11
		}, `target group "blue": health_check: healthy_threshold`},
		{"delay", func(c *Config) { c.TargetGroups[0].DeregistrationDelay = 2 * time.Hour }, "deregistration_delay: 2h0m0s is out of range"},
		{"assume healthy", func(c *Config) { c.TargetGroups[0].AssumeHealthy = []string{"10.9.9.9:1"} }, `assume_healthy: "10.9.9.9:1" is not one of the group's targets`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

func TestApplyKeepsConnectionsOfUnchangedListeners(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	p := startProxy(t, oneListener(forward("app", 1), group("app", a.addr)))
	url := baseURL(p, "web") + "/"
	c := newClient()
	get(t, c, url)

	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
	for i := range 20 {
		cfg := oneListener(forward("app", 1), group("app", a.addr, b.addr))
		cfg.TargetGroups[0].Targets = cfg.TargetGroups[0].Targets[:1+i%2]
		mustApply(t, p, cfg)
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if !reused {
			t.Fatalf("Apply %d: the client's keep-alive connection was not reused", i)
		}
	}
}

func TestRemovedListenerShutsDownGracefully(t *testing.T) {
	started := make(chan struct{}, 1)
	slow := newBackend(t, "slow", func(mux *http.ServeMux) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			time.Sleep(time.Second)
			w.Write([]byte("done"))
		})
	})
	cfg := oneListener(forward("app", 1), group("app", slow.addr))
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Name: "test", Address: "127.0.0.1:0", Default: forward("app", 1)})
	p := startProxy(t, cfg)
	testURL := baseURL(p, "test")

	done := make(chan string, 1)
	go func() {
		resp, err := newClient().Get(testURL + "/slow")
		if err != nil {
			done <- err.Error()
			return
		}
		done <- resp.Status + " " + readAll(t, resp)
	}()
	<-started
	cfg.Listeners = cfg.Listeners[:1]
	mustApply(t, p, cfg)
	if p.Addr("test") != nil {
		t.Error("removed listener still has an address")
	}
	if got := <-done; got != "200 OK done" {
		t.Errorf("request in flight on the removed listener: %q, want 200 OK done", got)
	}
	eventually(t, "removed listener to stop accepting", func() bool {
		_, err := http.Get(testURL + "/")
		return err != nil
	})
}

func TestTargetReAddedWhileDrainingReturns(t *testing.T) {
	started := make(chan struct{}, 1)
	a := newBackend(t, "a", func(mux *http.ServeMux) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			time.Sleep(500 * time.Millisecond)
		})
	})
	b := newBackend(t, "b", nil)
	cfg := oneListener(forward("app", 1), group("app", a.addr))
	p := startProxy(t, cfg)
	go newClient().Get(baseURL(p, "web") + "/slow")
	<-started

	cfg.TargetGroups[0].Targets = []string{b.addr}
	mustApply(t, p, cfg)
	if st, _ := targetState(p, "app", a.addr); st.State != StateDraining {
		t.Fatalf("removed target: %+v, want draining", st)
	}
	cfg.TargetGroups[0].Targets = []string{a.addr, b.addr}
	mustApply(t, p, cfg)
	// Checks are disabled in this group, so it is healthy at once.
	if st, _ := targetState(p, "app", a.addr); st.State != StateHealthy {
		t.Fatalf("re-added target: %+v, want healthy", st)
	}
	select {
	case <-p.Drained("app", a.addr):
		t.Fatal("Drained closed for a target back in service")
	case <-time.After(time.Second): // the slow request has finished by now
	}
	hits := a.hits.Load()
	c := newClient()
	for range 4 {
		get(t, c, baseURL(p, "web")+"/")
	}
	if a.hits.Load() == hits {
		t.Error("re-added target gets no traffic")
	}
}

func TestCloseIsGraceful(t *testing.T) {
	started := make(chan struct{}, 1)
	a := newBackend(t, "a", func(mux *http.ServeMux) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			time.Sleep(500 * time.Millisecond)
			w.Write([]byte("done"))
		})
	})
	p := New(Options{Logger: testLogger(t)})
	mustApply(t, p, oneListener(forward("app", 1), group("app", a.addr)))
	done := make(chan string, 1)
	go func() {
		resp, err := newClient().Get(baseURL(p, "web") + "/slow")
		if err != nil {
			done <- err.Error()
			return
		}
		done <- readAll(t, resp)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := <-done; got != "done" {
		t.Errorf("request in flight during Close: %q, want done", got)
	}
	if err := p.Apply(context.Background(), oneListener(forward("app", 1), group("app", a.addr))); err == nil || !errors.Is(err, errProxyIsClosed) {
		t.Errorf("Apply after Close: %v, want an error", err)
	}
}
