package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testcert"
)

func TestListenTCPRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		opts    TCPOptions
		refused bool
	}{
		{TCPOptions{Addr: "127.0.0.1:0"}, false},
		{TCPOptions{Addr: "[::1]:0"}, false},
		{TCPOptions{Addr: "localhost:0"}, false},
		{TCPOptions{Addr: ":0"}, true},
		{TCPOptions{Addr: "0.0.0.0:0"}, true},
		{TCPOptions{Addr: "[::]:0"}, true},
		{TCPOptions{Addr: "0.0.0.0:0", Insecure: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.opts.Addr, func(t *testing.T) {
			ln, err := ListenTCP(ctx, tt.opts, log)
			if tt.refused {
				if !errors.Is(err, ErrInsecureBind) {
					t.Fatalf("ListenTCP(%+v) = %v, want ErrInsecureBind", tt.opts, err)
				}
				return
			}
			if err != nil {
				t.Skipf("cannot listen here: %v", err) // e.g. no IPv6
			}
			ln.Close()
		})
	}
	if _, err := ListenTCP(ctx, TCPOptions{Addr: "0.0.0.0:0", CertFile: "cert.pem"}, log); err == nil {
		t.Error("a certificate without a key was accepted")
	}
}

func TestListenTCPServesTLS(t *testing.T) {
	certFile, keyFile, pool := testcert.Files(t)
	log := slog.New(slog.DiscardHandler)
	// TLS makes a non-loopback address acceptable.
	ln, err := ListenTCP(context.Background(), TCPOptions{Addr: "0.0.0.0:0", CertFile: certFile, KeyFile: keyFile}, log)
	if err != nil {
		t.Fatalf("TLS on 0.0.0.0: %v", err)
	}
	ln.Close()

	ln, err = ListenTCP(context.Background(), TCPOptions{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "over TLS") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "over TLS" {
		t.Errorf("body %q", body)
	}
}

func TestListenTCPCapsConnections(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			opts := TCPOptions{Addr: "127.0.0.1:0", MaxConns: 2}
			dial := func(addr string, wait time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", addr, wait) }
			if tlsOn {
				certFile, keyFile, pool := testcert.Files(t)
				opts.CertFile, opts.KeyFile = certFile, keyFile
				dial = func(addr string, wait time.Duration) (net.Conn, error) {
					return tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
				}
			}
			ln, err := ListenTCP(context.Background(), opts, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			var held []net.Conn
			for range 2 {
				c := dialGet(t, dial, ln.Addr().String(), 5*time.Second)
				if c == nil {
					t.Fatal("a connection under the cap was not served")
				}
				held = append(held, c)
			}
			third := make(chan net.Conn, 1)
			go func() { third <- dialGet(t, dial, ln.Addr().String(), 5*time.Second) }()
			select {
			case <-third:
				t.Fatal("a third connection was served over MaxConns 2")
			case <-time.After(300 * time.Millisecond):
			}
			held[0].Close()
			if c := <-third; c == nil {
				t.Fatal("the waiting connection was not served after one under the cap closed")
			}
		})
	}
}

// dialGet connects, sends a GET and returns the connection once the
// response arrived, or nil if it did not within wait.
func dialGet(t *testing.T, dial func(addr string, wait time.Duration) (net.Conn, error), addr string, wait time.Duration) net.Conn {
	t.Helper()
	c, err := dial(addr, wait)
	if err != nil {
		return nil
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	return c
}
