package e2e

import (
	"bufio"
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

// TestIdleClientsAreParkedAndServedAgain holds 2,000 idle keep-alive
// clients on the standalone load balancer: /metrics shows them parked,
// and each is served again on its own connection when it sends its next
// request.
func TestIdleClientsAreParkedAndServedAgain(t *testing.T) {
	const n = 2000
	prod, admin := freePort(t), freePort(t)
	cfgPath := filepath.Join(t.TempDir(), "lb.yaml")
	cfg := fmt.Sprintf(`admin: 127.0.0.1:%d
listeners:
  - {name: production, address: "127.0.0.1:%d", forward: app}
target_groups:
  - name: app
    targets: [%q]
    health_check: {path: /, interval: 500ms, timeout: 200ms, healthy_threshold: 2, unhealthy_threshold: 2}
`, admin, prod, backend(t, "a"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "proxy", "--config", cfgPath)
	addr := fmt.Sprintf("127.0.0.1:%d", prod)
	// No keep-alive: the only idle connections are the test's.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "the load balancer to answer", 20*time.Second, func() bool {
		code, _ := get(client, "http://"+addr+"/")
		return code == 200
	})
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", admin)
	parked := func() string {
		_, m := get(client, metricsURL)
		for _, line := range strings.Split(m, "\n") {
			if strings.HasPrefix(line, `cutover_listener_parked_connections{listener="production"} `) {
				return strings.Fields(line)[1]
			}
		}
		return "absent"
	}

	conns := make([]*idleClient, n)
	for i := range conns {
		conns[i] = dialIdle(t, addr)
		conns[i].get(t)
	}
	waitFor(t, fmt.Sprintf("%d parked connections", n), 30*time.Second, func() bool { return parked() == fmt.Sprint(n) })
	// (Memory per connection is measured by bench/proxy.sh: this binary is
	// built with -race, which multiplies it.)

	for _, c := range conns {
		c.get(t) // on the same connection: it was kept, not closed
	}
	for _, c := range conns {
		c.conn.Close()
	}
	waitFor(t, "no parked connection after the clients closed", 30*time.Second, func() bool { return parked() == "0" })
}

type idleClient struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialIdle(t *testing.T, addr string) *idleClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &idleClient{conn: c, br: bufio.NewReader(c)}
}

// get sends one GET on the client's connection and checks the answer.
func (c *idleClient) get(t *testing.T) {
	t.Helper()
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: app\r\n\r\n"); err != nil {
		t.Fatalf("sending a request: %v", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "a" {
		t.Fatalf("got %d %q (%v), want 200 \"a\"", resp.StatusCode, body, err)
	}
}
