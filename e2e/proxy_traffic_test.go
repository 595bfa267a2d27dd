package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProxyStickinessAndLimits runs the standalone load balancer with
// stickiness and limits from lb.yaml, under load: a sticky client stays
// on one of three targets; a large header gets 431, a large body 413
// (with a Content-Length and chunked); /metrics counts each refusal;
// the load fails no request.
func TestProxyStickinessAndLimits(t *testing.T) {
	targets := []string{backend(t, "a"), backend(t, "b"), backend(t, "c")}
	prod, admin := freePort(t), freePort(t)
	cfgPath := filepath.Join(t.TempDir(), "lb.yaml")
	cfg := fmt.Sprintf(`admin: 127.0.0.1:%d
listeners:
  - {name: production, address: "127.0.0.1:%d", forward: app, max_header_size: 4KiB}
target_groups:
  - name: app
    targets: [%q, %q, %q]
    health_check: {path: /, interval: 500ms, timeout: 200ms, healthy_threshold: 2, unhealthy_threshold: 2}
    stickiness: {type: lb_cookie, duration: 1h}
    max_body_size: 1KiB
`, admin, prod, targets[0], targets[1], targets[2])
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "proxy", "--config", cfgPath)
	url := fmt.Sprintf("http://127.0.0.1:%d/", prod)
	client := &http.Client{Timeout: 5 * time.Second}
	waitFor(t, "all three targets to answer", 20*time.Second, func() bool {
		seen := map[string]bool{}
		for range 12 {
			if code, body := get(client, url); code == 200 {
				seen[body] = true
			}
		}
		return len(seen) == 3
	})
	l := startLoad(url, 4)

	do := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	req, _ := http.NewRequest("GET", url, nil)
	resp, first := do(req)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "CUTOVER_STICKY" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no CUTOVER_STICKY cookie")
	}
	for range 20 {
		req, _ := http.NewRequest("GET", url, nil)
		req.AddCookie(cookie)
		if _, body := do(req); body != first {
			t.Fatalf("a sticky client got %q after %q", body, first)
		}
	}

	req, _ = http.NewRequest("GET", url, nil)
	req.Header.Set("X-Big", strings.Repeat("h", 5000))
	if resp, _ := do(req); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 5000-byte header: %s, want 431", resp.Status)
	}
	req, _ = http.NewRequest("POST", url, bytes.NewReader(make([]byte, 2048)))
	if resp, _ := do(req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 KiB body: %s, want 413", resp.Status)
	}
	if got := chunkedPost(t, prod, 4096); !strings.HasPrefix(got, "HTTP/1.1 413 ") {
		t.Errorf("a 4 KiB chunked body: %q, want 413", got)
	}
	l.finish(t)

	_, metrics := get(client, fmt.Sprintf("http://127.0.0.1:%d/metrics", admin))
	for _, line := range []string{
		`cutover_limit_refusals_total{listener="production",limit="max_header_size"} 1`,
		`cutover_limit_refusals_total{listener="production",limit="max_body_size"} 2`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// chunkedPost sends a chunked body of n bytes and returns the response.
func chunkedPost(t *testing.T, port, n int) string {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// /slow answers after 2s: the limit is passed before the target answers.
	fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	for sent := 0; sent < n; sent += 512 {
		fmt.Fprintf(c, "200\r\n%s\r\n", strings.Repeat("x", 512))
	}
	io.WriteString(c, "0\r\n\r\n")
	b, _ := io.ReadAll(c)
	return string(b)
}
