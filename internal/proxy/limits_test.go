package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn dials the listener with a deadline that bounds the whole test
// conversation, so a proxy that never answers fails the test instead of
// hanging it.
func rawConn(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr("web").String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readToClose reads what the proxy sends until it closes the
// connection; closed is false when the deadline came first.
func readToClose(c net.Conn) (got string, closed bool) {
	b, err := io.ReadAll(c)
	return string(b), err == nil
}

// limitsProxy is a proxy with one listener whose settings lc adjusts, in
// front of a backend that echoes the request body.
func limitsProxy(t *testing.T, opts Options, lc func(*ListenerConfig)) *Proxy {
	t.Helper()
	b := newBackend(t, "b", func(mux *http.ServeMux) {
		mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			w.Write(body)
		})
		mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		})
	})
	cfg := oneListener(forward("g", 1), group("g", b.addr))
	if lc != nil {
		lc(&cfg.Listeners[0])
	}
	return startProxyWith(t, opts, cfg)
}

func TestBodyTimeout(t *testing.T) {
	tests := []struct {
		name       string
		send       func(c net.Conn)
		wantStatus string // prefix of what the client gets; "" for nothing
		wantClose  bool
	}{
		{"no body byte: 408", func(c net.Conn) {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
		}, "HTTP/1.1 408 ", true},
		{"stalls after part of the body: cut", func(c net.Conn) {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		}, "", true},
		{"chunked body stalls: 408", func(c net.Conn) {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		}, "HTTP/1.1 408 ", true},
		{"slow but never silent for the timeout: served", func(c net.Conn) {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n")
			for _, b := range "slow" {
				time.Sleep(150 * time.Millisecond)
				io.WriteString(c, string(b))
			}
		}, "HTTP/1.1 200 ", true},
	}
	for _, fw := range forwarders {
		for _, tt := range tests {
			t.Run(fw.name+"/"+tt.name, func(t *testing.T) {
				p := limitsProxy(t, fw.opts, func(lc *ListenerConfig) { lc.BodyTimeout = 400 * time.Millisecond })
				c := rawConn(t, p)
				tt.send(c)
				got, closed := readToClose(c)
				if closed != tt.wantClose {
					t.Fatalf("connection closed = %v, want %v; got %q", closed, tt.wantClose, got)
				}
				if tt.wantStatus == "" && got != "" || !strings.HasPrefix(got, tt.wantStatus) {
					t.Fatalf("got %q, want a response starting %q", got, tt.wantStatus)
				}
			})
		}
	}
}

func TestMaxConnectionsWaitInBacklog(t *testing.T) {
	p := limitsProxy(t, Options{}, func(lc *ListenerConfig) { lc.MaxConnections = 2 })
	get := func(c net.Conn) error {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	first, second := rawConn(t, p), rawConn(t, p)
	for _, c := range []net.Conn{first, second} {
		if err := get(c); err != nil {
			t.Fatalf("a connection under the cap: %v", err)
		}
	}

	third := rawConn(t, p) // the kernel completes the handshake
	third.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if err := get(third); err == nil {
		t.Fatal("a third connection was served over max_connections 2")
	}
	metrics := scrape(t, p)
	for _, want := range []string{
		`cutover_listener_connections{listener="web"} 2`,
		`cutover_listener_max_connections{listener="web"} 2`,
		`cutover_listener_connection_waits_total{listener="web"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}

	first.Close()
	third.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served once a slot freed: %v", err)
	}
	resp.Body.Close()
}

func TestMaxConnectionsRaisedByApply(t *testing.T) {
	b := newBackend(t, "b", nil)
	cfg := oneListener(forward("g", 1), group("g", b.addr))
	cfg.Listeners[0].MaxConnections = 1
	p := startProxyWith(t, Options{}, cfg)
	held := rawConn(t, p)
	io.WriteString(held, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(held), nil); err != nil {
		t.Fatal(err)
	}
	waiting := rawConn(t, p)
	io.WriteString(waiting, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)

	cfg.Listeners[0].MaxConnections = 2
	mustApply(t, p, cfg)
	if _, err := http.ReadResponse(bufio.NewReader(waiting), nil); err != nil {
		t.Fatalf("a raised max_connections did not let the waiting connection in: %v", err)
	}
}

func scrape(t *testing.T, p *Proxy) string {
	t.Helper()
	var sb strings.Builder
	if err := p.Metrics().WritePrometheus(&sb); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// RFC 9112 section 6.1: after a request with both Content-Length and
// Transfer-Encoding the server must close the connection.
func TestTransferEncodingClosesConnection(t *testing.T) {
	tests := []struct {
		name      string
		head      string
		wantClose bool
	}{
		{"Content-Length and Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", true},
		{"Transfer-Encoding only", "Transfer-Encoding: chunked\r\n", true},
		{"Content-Length only: kept alive", "Content-Length: 5\r\n", false},
	}
	for _, fw := range forwarders {
		for _, tt := range tests {
			t.Run(fw.name+"/"+tt.name, func(t *testing.T) {
				p := limitsProxy(t, fw.opts, nil)
				c := rawConn(t, p)
				body := "hello"
				if strings.Contains(tt.head, "chunked") {
					body = "5\r\nhello\r\n0\r\n\r\n"
				}
				io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"+tt.head+"\r\n"+body)
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(got) != "hello" {
					t.Fatalf("got %s %q, want 200 hello", resp.Status, got)
				}
				if resp.Close != tt.wantClose {
					t.Errorf("Connection: close = %v, want %v", resp.Close, tt.wantClose)
				}
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				_, err = br.ReadByte()
				if closed := err == io.EOF; closed != tt.wantClose {
					t.Errorf("connection closed = %v (%v), want %v", closed, err, tt.wantClose)
				}
			})
		}
	}
}

// RFC 9110 section 15.2: a server must not send a 1xx response to an
// HTTP/1.0 client.
func TestNo1xxToHTTP10Clients(t *testing.T) {
	tests := []struct {
		name     string
		request  string
		want1xx  string // an interim status line that must (not) be there
		allowed  bool
		wantBody string
	}{
		{"HTTP/1.0 Expect: 100-continue", "POST /echo HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
			" 100 Continue", false, "hello"},
		{"HTTP/1.0 and a target's 103", "GET /early HTTP/1.0\r\nHost: x\r\n\r\n", " 103 Early Hints", false, "final"},
		{"HTTP/1.1 and a target's 103", "GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", " 103 Early Hints", true, "final"},
	}
	for _, fw := range forwarders {
		for _, tt := range tests {
			t.Run(fw.name+"/"+tt.name, func(t *testing.T) {
				p := limitsProxy(t, fw.opts, nil)
				c := rawConn(t, p)
				io.WriteString(c, tt.request)
				got, closed := readToClose(c)
				if !closed {
					t.Fatalf("no complete response: %q", got)
				}
				if strings.Contains(got, tt.want1xx) != tt.allowed {
					t.Errorf("%q in the response = %v, want %v:\n%s", tt.want1xx, !tt.allowed, tt.allowed, got)
				}
				if !strings.Contains(got, " 200 OK\r\n") || !strings.HasSuffix(got, tt.wantBody) {
					t.Errorf("want a 200 with body %q:\n%s", tt.wantBody, got)
				}
			})
		}
	}
}

// Over HTTP/2 a stalled body ends its stream with 408; the connection
// and its other streams carry on.
func TestBodyTimeoutHTTP2(t *testing.T) {
	p := limitsProxy(t, Options{}, func(lc *ListenerConfig) { lc.BodyTimeout = 400 * time.Millisecond })
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: protocols}, Timeout: 5 * time.Second}
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodPost, baseURL(p, "web")+"/echo", pr)
	resp, err := c.Do(req) // the body never comes
	if err != nil {
		t.Fatalf("h2c POST: %v", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("got %s %s, want HTTP/2.0 408", resp.Proto, resp.Status)
	}
	if code, body := get(t, c, baseURL(p, "web")+"/"); code != http.StatusOK || body != "b" {
		t.Errorf("then GET: %d %q, want 200 b", code, body)
	}
}
