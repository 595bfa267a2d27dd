package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testcert"
)

func TestH2CListener(t *testing.T) {
	b := newBackend(t, "b", nil)
	p := startProxy(t, oneListener(forward("app", 1), group("app", b.addr)))
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	resp, err := c.Get(baseURL(p, "web") + "/")
	if err != nil {
		t.Fatalf("h2c request: %v", err)
	}
	if body := readAll(t, resp); resp.ProtoMajor != 2 || body != "b" {
		t.Errorf("got %s %q, want HTTP/2.0 \"b\"", resp.Proto, body)
	}
}

func TestTLSListenerSpeaksHTTP2(t *testing.T) {
	b := newBackend(t, "b", nil)
	certFile, keyFile, pool := testcert.Files(t)
	cfg := oneListener(forward("app", 1), group("app", b.addr))
	cfg.Listeners[0].TLS = &TLSConfig{CertFile: certFile, KeyFile: keyFile}
	p := startProxy(t, cfg)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	resp, err := c.Get("https://" + p.Addr("web").String() + "/")
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	if body := readAll(t, resp); resp.ProtoMajor != 2 || body != "b" {
		t.Errorf("got %s %q, want HTTP/2.0 \"b\"", resp.Proto, body)
	}
}

func TestServerSentEventsFlushAtOnce(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, "sse", func(mux *http.ServeMux) {
		mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: first\n\n")
			http.NewResponseController(w).Flush()
			select { // the handler does not finish until the test has the event
			case <-release:
			case <-time.After(10 * time.Second):
			}
			io.WriteString(w, "data: second\n\n")
		})
	})
	p := startProxy(t, oneListener(forward("app", 1), group("app", b.addr)))
	resp, err := newClient().Get(baseURL(p, "web") + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(release)
	if err != nil || first != "data: first\n" {
		t.Fatalf("first event: %q %v", first, err)
	}
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	b := newBackend(t, "echo", func(mux *http.ServeMux) {
		mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(map[string]string{
				"host":  r.Host,
				"xff":   r.Header.Get("X-Forwarded-For"),
				"proto": r.Header.Get("X-Forwarded-Proto"),
				"xfh":   r.Header.Get("X-Forwarded-Host"),
				"id":    r.Header.Get("X-Request-Id"),
			})
		})
	})
	p := startProxy(t, oneListener(forward("app", 1), group("app", b.addr)))
	c := newClient()
	do := func(headers map[string]string) map[string]string {
		req, _ := http.NewRequest(http.MethodGet, baseURL(p, "web")+"/headers", nil)
		req.Host = "app.example.com"
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(readAll(t, resp)), &got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	got := do(map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Request-Id": "abc-123"})
	want := map[string]string{"host": "app.example.com", "xff": "203.0.113.7, 127.0.0.1", "proto": "http", "xfh": "app.example.com", "id": "abc-123"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	gen1 := do(nil)["id"]
	gen2 := do(map[string]string{"X-Request-Id": "has spaces <script>"})["id"]
	if gen1 == "" || gen2 == "" || gen1 == gen2 || gen2 == "has spaces <script>" {
		t.Errorf("generated ids %q and %q: want two different, sane ids", gen1, gen2)
	}
}
