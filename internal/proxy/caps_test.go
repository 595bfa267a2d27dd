package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cutover/cutover/internal/proxy/metrics"
)

// bodyBackend records the size of every request body it read completely.
type bodyBackend struct {
	*backend
	complete atomic.Int64 // bodies read to their end
	largest  atomic.Int64 // size of the largest complete body
}

func newBodyBackend(t *testing.T) *bodyBackend {
	bb := &bodyBackend{}
	bb.backend = newBackend(t, "b", func(mux *http.ServeMux) {
		mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			bb.complete.Add(1)
			if n := int64(len(body)); n > bb.largest.Load() {
				bb.largest.Store(n)
			}
			fmt.Fprintf(w, "got %d", len(body))
		})
	})
	return bb
}

func TestMaxHeaderSize(t *testing.T) {
	for _, fw := range forwarders {
		t.Run(fw.name, func(t *testing.T) {
			b := newBackend(t, "b", nil)
			cfg := oneListener(forward("g", 1), group("g", b.addr))
			cfg.Listeners[0].MaxHeaderSize = 2048
			p := startProxyWith(t, fw.opts, cfg)

			send := func(header int) *http.Response {
				req, _ := http.NewRequest("GET", baseURL(p, "web")+"/", nil)
				req.Header.Set("X-Big", strings.Repeat("a", header))
				resp, err := newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
				return resp
			}
			if resp := send(1500); resp.StatusCode != http.StatusOK {
				t.Fatalf("header under the cap: %s, want 200", resp.Status)
			}
			if resp := send(3000); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("header over the cap: %s, want 431", resp.Status)
			}
			if b.hits.Load() != 1 {
				t.Fatalf("backend got %d requests, want 1: the 431 must reach no target", b.hits.Load())
			}
			if n := p.Metrics().RefusedCount("web", metrics.LimitHeaderSize); n != 1 {
				t.Fatalf("refusals counted: %d, want 1", n)
			}
			assertMetric(t, p, `cutover_limit_refusals_total{listener="web",limit="max_header_size"} 1`)
		})
	}
}

func TestMaxBodySize(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name       string
		req        string // sent raw; %s is the body
		body       string
		wantStatus string
		wantMax    int64 // largest body the target may have read completely
	}{
		{"content-length under the cap", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nConnection: close\r\n\r\n%s",
			strings.Repeat("a", 500), "HTTP/1.1 200 ", 500},
		{"content-length over the cap", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n%s",
			strings.Repeat("a", 2000), "HTTP/1.1 413 ", 0},
		{"chunked under the cap", "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s",
			chunked(strings.Repeat("a", 900), 300), "HTTP/1.1 200 ", 900},
		{"chunked over the cap", "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s",
			chunked(strings.Repeat("a", 3000), 300), "HTTP/1.1 413 ", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bb := newBodyBackend(t)
			tg := group("g", bb.addr)
			tg.MaxBodySize = limit
			p := startProxy(t, oneListener(forward("g", 1), tg))
			c := rawConn(t, p)
			fmt.Fprintf(c, tt.req, tt.body)
			got, _ := readToClose(c)
			if !strings.HasPrefix(got, tt.wantStatus) {
				t.Fatalf("got %q, want a response starting %q", got, tt.wantStatus)
			}
			if bb.largest.Load() != tt.wantMax {
				t.Fatalf("target read a complete body of %d bytes, want %d", bb.largest.Load(), tt.wantMax)
			}
			want := int64(0)
			if strings.Contains(tt.wantStatus, "413") {
				want = 1
			}
			if n := p.Metrics().RefusedCount("web", metrics.LimitBodySize); n != want {
				t.Fatalf("max_body_size refusals: %d, want %d", n, want)
			}
		})
	}
}

// chunked encodes body in chunks of size n.
func chunked(body string, n int) string {
	var sb strings.Builder
	for len(body) > 0 {
		k := min(n, len(body))
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", k, body[:k])
		body = body[k:]
	}
	sb.WriteString("0\r\n\r\n")
	return sb.String()
}

// blockingBackends returns backends whose /block requests wait until
// release is closed, and a channel that gets each backend's name as a
// /block request arrives.
func blockingBackends(t *testing.T, release chan struct{}, names ...string) ([]*backend, chan string) {
	arrived := make(chan string, 100)
	var bs []*backend
	for _, name := range names {
		bs = append(bs, newBackend(t, name, func(mux *http.ServeMux) {
			mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
				arrived <- name
				<-release
				io.WriteString(w, name)
			})
		}))
	}
	return bs, arrived
}

func TestMaxConnectionsPerTarget(t *testing.T) {
	release := make(chan struct{})
	bs, arrived := blockingBackends(t, release, "a", "b")
	tg := group("g", bs[0].addr, bs[1].addr)
	tg.MaxConnectionsPerTarget = 1
	p := startProxy(t, oneListener(forward("g", 1), tg))
	url := baseURL(p, "web")

	results := make(chan string, 2)
	for range 2 {
		go func() {
			resp, err := newClient().Get(url + "/block")
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- string(b)
		}()
	}
	// Round robin would send the second to the first target half the
	// time; the cap sends it to the other one.
	if first, second := <-arrived, <-arrived; first == second {
		t.Fatalf("both requests went to %s, which has a cap of 1", first)
	}
	status, body := get(t, newClient(), url+"/")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "connection limit") {
		t.Fatalf("every target full: %d %q, want 503 naming the connection limit", status, body)
	}
	if n := p.Metrics().RefusedCount("web", metrics.LimitTargetConnections); n != 1 {
		t.Fatalf("max_connections_per_target refusals: %d, want 1", n)
	}
	close(release)
	for range 2 {
		if r := <-results; r != "a" && r != "b" {
			t.Fatalf("a request under the cap: %q", r)
		}
	}
	if status, _ := get(t, newClient(), url+"/"); status != http.StatusOK {
		t.Fatalf("after the requests ended: %d, want 200", status)
	}
	assertMetric(t, p, `cutover_limit_refusals_total{listener="web",limit="max_connections_per_target"} 1`)
}

// assertMetric checks that the Prometheus text has a line.
func assertMetric(t *testing.T, p *Proxy, line string) {
	t.Helper()
	var sb strings.Builder
	if err := p.Metrics().WritePrometheus(&sb); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(sb.String()))
	for sc.Scan() {
		if sc.Text() == line {
			return
		}
	}
	t.Fatalf("metrics have no line %q:\n%s", line, sb.String())
}
