package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// limited is a daemon whose HTTP servers have short limits.
type limited struct {
	*Server
	metricsAddr string
}

func startLimited(t *testing.T) limited {
	t.Helper()
	metricsAddr := freeAddr(t)
	s, err := Start(context.Background(), Options{
		DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		API: api.TCPOptions{Addr: "127.0.0.1:0"}, MetricsAddr: metricsAddr, InProcessDataPlane: true,
		HTTP: HTTPLimits{IdleTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond, MetricsTimeout: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return limited{s, metricsAddr}
}

// endpoints are the control plane's HTTP servers, with a way to dial
// each and a request with a body that each reads.
func endpoints(t *testing.T, s limited) []struct {
	name string
	dial func() (net.Conn, error)
	post string // a request head whose body the handler reads
} {
	tok := token(t, s.Server, store.RoleAdmin)
	tcp := func() (net.Conn, error) { return net.Dial("tcp", s.APIAddr().String()) }
	unix := func() (net.Conn, error) { return net.Dial("unix", filepath.Join(s.dataDir, SocketName)) }
	metrics := func() (net.Conn, error) { return net.Dial("tcp", s.metricsAddr) }
	head := "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
	return []struct {
		name string
		dial func() (net.Conn, error)
		post string
	}{
		{"unix socket", unix, head + "\r\n"},
		{"tcp", tcp, head + "Authorization: Bearer " + tok + "\r\n\r\n"},
		{"metrics", metrics, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"},
	}
}

// closedWithin reports whether the server closes c within d, after
// reading whatever it sends.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil
}

func TestHTTPServersCloseIdleConnections(t *testing.T) {
	s := startLimited(t)
	for _, ep := range endpoints(t, s) {
		t.Run(ep.name, func(t *testing.T) {
			c, err := ep.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET /api/v1/apps HTTP/1.1\r\nHost: x\r\n\r\n")
			if !closedWithin(c, 3*time.Second) {
				t.Fatal("an idle keep-alive connection is still open after 3s with IdleTimeout 300ms")
			}
		})
	}
}

func TestHTTPServersBodyTimeout(t *testing.T) {
	s := startLimited(t)
	for _, ep := range endpoints(t, s) {
		t.Run(ep.name, func(t *testing.T) {
			c, err := ep.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, ep.post+`{"name":`) // and then nothing
			if !closedWithin(c, 3*time.Second) {
				t.Fatal("a connection whose body stalled is still open after 3s with a 300ms timeout")
			}
		})
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Streams outlive every limit: only idle connections and stalled bodies
// are cut.
func TestHTTPServersKeepStreamsOpen(t *testing.T) {
	s := startLimited(t)
	for _, ep := range endpoints(t, s)[:2] {
		t.Run(ep.name, func(t *testing.T) {
			c, err := ep.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			auth := ""
			if ep.name == "tcp" {
				auth = "Authorization: Bearer " + token(t, s.Server, store.RoleRead) + "\r\n"
			}
			io.WriteString(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"+auth+"\r\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /api/v1/events: %v %v", resp, err)
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			_, err = io.Copy(io.Discard, br)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the event stream ended within 1s (limits 300ms): %v", err)
			}
		})
	}
}
