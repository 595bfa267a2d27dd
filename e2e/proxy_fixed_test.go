package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProxyFixedResponseByReload puts the standalone load balancer's
// production listener in maintenance with lb.yaml's fixed_response and a
// reload, and back: the page with Retry-After, then blue again, while
// the test listener keeps forwarding; keep-alive clients see no
// connection error.
func TestProxyFixedResponseByReload(t *testing.T) {
	_, cfgPath, ports, _, _ := startProxy(t)
	normal, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	fwd := "    forward:\n      - {target_group: blue, weight: 100}\n      - {target_group: green, weight: 0}\n"
	fixed := "    fixed_response: {status_code: 503, content_type: text/html, body: \"<h1>Back soon</h1>\", retry_after: 60}\n"
	if !strings.Contains(string(normal), fwd) {
		t.Fatalf("lb.yaml lacks the production forward:\n%s", normal)
	}
	reload := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run(t, "proxy", "reload", "--config", cfgPath); code != 0 {
			t.Fatalf("cutover proxy reload exited %d: %s", code, out)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	ask := func(port int) string {
		t.Helper()
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	l := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ports.test), 4)
	reload(strings.Replace(string(normal), fwd, fixed, 1))
	if got := ask(ports.prod); got != "503 60 <h1>Back soon</h1>" {
		t.Errorf("production in maintenance: %q", got)
	}
	reload(string(normal))
	if got := ask(ports.prod); got != "200  blue" {
		t.Errorf("production after maintenance: %q", got)
	}
	l.finish(t)
	if l.count("green") == 0 {
		t.Error("the test listener did not answer from green meanwhile")
	}
}
