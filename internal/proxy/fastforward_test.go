package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawTarget is a target that answers from a script, byte for byte, to
// test what real servers rarely send. respond gets the raw request head
// and the request's number on its connection (from 0); it returns false
// to close the connection.
type rawTarget struct {
	addr  string
	conns atomic.Int64 // connections accepted
	open  atomic.Int64 // connections not yet closed
}

func newRawTarget(t *testing.T, respond func(c net.Conn, head string, n int) bool) *rawTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rt := &rawTarget{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rt.conns.Add(1)
			rt.open.Add(1)
			go func() {
				defer rt.open.Add(-1)
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					if !respond(c, head.String(), n) {
						return
					}
				}
			}()
		}
	}()
	return rt
}

// forwarders are the two forwarding paths, which must behave alike.
var forwarders = []struct {
	name string
	opts Options
}{
	{"fast", Options{}},
	{"reverseproxy", Options{DisableFastPath: true}},
}

func startProxyWith(t *testing.T, opts Options, cfg Config) *Proxy {
	t.Helper()
	opts.Logger = testLogger(t)
	p := New(opts)
	if err := p.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// proxyTo starts a proxy whose one listener forwards to a group of the
// single target addr, which failures never eject (these tests count what
// the target gets), and returns the listener's URL.
func proxyTo(t *testing.T, opts Options, addr string) string {
	t.Helper()
	g := group("app", addr)
	g.Outlier.ConsecutiveFailures = -1
	return baseURL(startProxyWith(t, opts, oneListener(forward("app", 1), g)), "web") + "/"
}

// outcome is what a client sees of one request.
type outcome struct {
	status  int
	header  http.Header
	body    string
	bodyErr bool // the response or its body broke off
	trailer http.Header
	interim []int
}

// do sends a bodiless request. broken says the response may break off
// before its head arrives; do fails the test otherwise.
func do(t *testing.T, c *http.Client, method, url string, broken bool) outcome {
	t.Helper()
	var o outcome
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		o.interim = append(o.interim, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		if broken {
			o.bodyErr = true
			return o
		}
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	o.status, o.header, o.body, o.bodyErr, o.trailer = resp.StatusCode, resp.Header, string(body), err != nil, resp.Trailer
	return o
}

func TestForwardingFraming(t *testing.T) {
	large := strings.Repeat("0123456789", 30000)
	tests := []struct {
		name     string
		method   string
		response string // sent for every request
		close    bool   // the target closes the connection after it
		partial  bool   // the target cuts the connection inside the body

		wantStatus  int
		wantBody    string
		wantBodyErr bool // the client must see a broken response, not a short one
		wantHeader  map[string]string
		wantTrailer map[string]string
		wantInterim []int
		wantConns   int64 // connections to the target for two requests
	}{
		{
			name: "content length", method: "GET",
			response:   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-App: a\r\n\r\nhello",
			wantStatus: 200, wantBody: "hello", wantHeader: map[string]string{"X-App": "a", "Content-Length": "5"}, wantConns: 1,
		},
		{
			name: "large sized body", method: "GET",
			response:   "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + large,
			wantStatus: 200, wantBody: large, wantConns: 1,
		},
		{
			name: "large body until close", method: "GET", close: true,
			response:   "HTTP/1.1 200 OK\r\n\r\n" + large,
			wantStatus: 200, wantBody: large, wantConns: 2,
		},
		{
			name: "large chunks", method: "GET",
			response:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n493e0\r\n" + large + "\r\n493e0\r\n" + large + "\r\n0\r\n\r\n",
			wantStatus: 200, wantBody: large + large, wantConns: 1,
		},
		{
			name: "cut inside a large body", method: "GET", partial: true,
			response:    "HTTP/1.1 200 OK\r\nContent-Length: 300001\r\n\r\n" + large,
			wantBodyErr: true, wantConns: 2,
		},
		{
			name: "chunked with trailers", method: "GET",
			response:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
			wantStatus: 200, wantBody: "hello world", wantTrailer: map[string]string{"X-Sum": "42"}, wantConns: 1,
		},
		{
			name: "204 without body", method: "GET",
			response:   "HTTP/1.1 204 No Content\r\nX-App: a\r\n\r\n",
			wantStatus: 204, wantHeader: map[string]string{"X-App": "a"}, wantConns: 1,
		},
		{
			name: "304 with a length but no body", method: "GET",
			response:   "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nEtag: \"x\"\r\n\r\n",
			wantStatus: 304, wantHeader: map[string]string{"Etag": `"x"`}, wantConns: 1,
		},
		{
			name: "HEAD with a length but no body", method: "HEAD",
			response:   "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
			wantStatus: 200, wantHeader: map[string]string{"Content-Length": "11"}, wantConns: 1,
		},
		{
			name: "1xx before the response", method: "GET",
			response:   "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			wantStatus: 200, wantBody: "ok", wantInterim: []int{103}, wantConns: 1,
		},
		{
			name: "connection close", method: "GET", close: true,
			response:   "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
			wantStatus: 200, wantBody: "ok", wantConns: 2,
		},
		{
			name: "body until close", method: "GET", close: true,
			response:   "HTTP/1.1 200 OK\r\nX-App: a\r\n\r\nuntil the end",
			wantStatus: 200, wantBody: "until the end", wantConns: 2,
		},
		{
			name: "HTTP/1.0 without keep-alive", method: "GET", close: true,
			response:   "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
			wantStatus: 200, wantBody: "ok", wantConns: 2,
		},
		{
			name: "hop-by-hop headers stay behind", method: "GET",
			response:   "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nX-App: a\r\nContent-Length: 2\r\n\r\nok",
			wantStatus: 200, wantBody: "ok", wantHeader: map[string]string{"X-App": "a", "X-Private": "", "Keep-Alive": "", "Connection": ""}, wantConns: 1,
		},
		{
			name: "cut inside a sized body", method: "GET", partial: true,
			response:    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
			wantBodyErr: true, wantConns: 2,
		},
		{
			name: "cut inside a chunked body", method: "GET", partial: true,
			response:    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
			wantBodyErr: true, wantConns: 2,
		},
		{
			name: "malformed chunk", method: "GET", close: true,
			response:    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
			wantBodyErr: true, wantConns: 2,
		},
		{
			name: "differing lengths", method: "GET", close: true,
			response:   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
			wantStatus: 502, wantBody: "502 Bad Gateway: target %s failed: bad response\n", wantConns: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, fw := range forwarders {
				t.Run(fw.name, func(t *testing.T) {
					target := newRawTarget(t, func(c net.Conn, _ string, _ int) bool {
						io.WriteString(c, tt.response)
						return !tt.close && !tt.partial
					})
					url := proxyTo(t, fw.opts, target.addr)
					c := newClient()
					for i := range 2 {
						o := do(t, c, tt.method, url, tt.wantBodyErr)
						wantBody := strings.ReplaceAll(tt.wantBody, "%s", target.addr)
						if o.bodyErr != tt.wantBodyErr || (!tt.wantBodyErr && (o.status != tt.wantStatus || o.body != wantBody)) {
							t.Fatalf("request %d: %d %q (body error %v), want %d %q (body error %v)",
								i, o.status, o.body, o.bodyErr, tt.wantStatus, wantBody, tt.wantBodyErr)
						}
						for k, v := range tt.wantHeader {
							if got := o.header.Get(k); got != v {
								t.Errorf("header %s: %q, want %q", k, got, v)
							}
						}
						for k, v := range tt.wantTrailer {
							if got := o.trailer.Get(k); got != v {
								t.Errorf("trailer %s: %q, want %q", k, got, v)
							}
						}
						if !slices.Equal(o.interim, tt.wantInterim) {
							t.Errorf("1xx responses %v, want %v", o.interim, tt.wantInterim)
						}
					}
					if n := target.conns.Load(); n != tt.wantConns {
						t.Errorf("%d connections to the target for two requests, want %d", n, tt.wantConns)
					}
				})
			}
		})
	}
}

func TestAmbiguousFramingIsRefused(t *testing.T) {
	// net/http's Transport lets Transfer-Encoding win; the fast path
	// refuses the response: a target that sends both is broken or lying.
	target := newRawTarget(t, func(c net.Conn, _ string, _ int) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
		return false
	})
	p := startProxy(t, oneListener(forward("app", 1), group("app", target.addr)))
	o := do(t, newClient(), "GET", baseURL(p, "web")+"/", false)
	want := "502 Bad Gateway: target " + target.addr + " failed: bad response\n"
	if o.status != 502 || o.body != want {
		t.Errorf("got %d %q, want 502 %q", o.status, o.body, want)
	}
}

func TestStaleConnectionIsReplaced(t *testing.T) {
	t.Run("closed while idle", func(t *testing.T) {
		// The target answers and then closes the connection, as a server
		// does when its idle timeout ends. A POST, which is never sent
		// twice, must not land on the dead connection. (ReverseProxy's
		// Transport notices the close from a reader goroutine, and a
		// request can beat it there; the fast path checks the connection
		// before it uses it.)
		closed := make(chan struct{}, 10)
		target := newRawTarget(t, func(c net.Conn, _ string, _ int) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.Close()
			closed <- struct{}{}
			return false
		})
		p := startProxy(t, oneListener(forward("app", 1), group("app", target.addr)))
		c := newClient()
		for i, method := range []string{"GET", "POST", "GET", "DELETE", "PATCH"} {
			if o := do(t, c, method, baseURL(p, "web")+"/", false); o.status != 200 || o.body != "ok" {
				t.Fatalf("request %d (%s) after the target closed its connection: %d %q", i, method, o.status, o.body)
			}
			<-closed
		}
	})

	t.Run("unasked answer while idle", func(t *testing.T) {
		// The target answers, and a while later sends a 408 nobody asked
		// for and closes, as some servers do at their idle timeout. The
		// next request, on a connection idle that long, must get its own
		// answer from a new connection, not the 408.
		sent := make(chan struct{}, 10)
		target := newRawTarget(t, func(c net.Conn, _ string, _ int) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			time.Sleep(uncheckedReuse / 2)
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			sent <- struct{}{}
			return false
		})
		p := startProxy(t, oneListener(forward("app", 1), group("app", target.addr)))
		c := newClient()
		for i := range 3 {
			if o := do(t, c, "GET", baseURL(p, "web")+"/", false); o.status != 200 || o.body != "ok" {
				t.Fatalf("request %d after the target's unasked 408: %d %q, want 200 ok", i, o.status, o.body)
			}
			<-sent
			time.Sleep(2 * uncheckedReuse)
		}
	})

	t.Run("body after a bodiless response", func(t *testing.T) {
		// The target sends a body after its answer to a HEAD, in a packet
		// of its own. A GET right after, within uncheckedReuse, must not
		// read that body as its response.
		sent := make(chan struct{}, 10)
		target := newRawTarget(t, func(c net.Conn, head string, _ int) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
			if strings.HasPrefix(head, "HEAD ") {
				time.Sleep(10 * time.Millisecond)
				io.WriteString(c, "no")
				sent <- struct{}{}
				return true
			}
			io.WriteString(c, "ok")
			return true
		})
		url := proxyTo(t, Options{}, target.addr)
		c := newClient()
		for i := range 3 {
			if o := do(t, c, "HEAD", url, false); o.status != 200 {
				t.Fatalf("HEAD %d: %d", i, o.status)
			}
			<-sent
			if o := do(t, c, "GET", url, false); o.status != 200 || o.body != "ok" {
				t.Fatalf("GET %d after a HEAD answered with a body: %d %q, want 200 ok", i, o.status, o.body)
			}
		}
	})

	t.Run("closed after a 1xx", func(t *testing.T) {
		// The target sends 103 Early Hints on a reused connection and
		// closes it: it got the request, so even a GET is not sent again.
		var requests atomic.Int64
		target := newRawTarget(t, func(c net.Conn, _ string, n int) bool {
			requests.Add(1)
			if n > 0 {
				io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
				return false
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		})
		url := proxyTo(t, Options{}, target.addr)
		c := newClient()
		do(t, c, "GET", url, false)
		if o := do(t, c, "GET", url, true); o.status == 200 {
			t.Errorf("GET whose connection closed after a 103: 200 %q, want it to fail", o.body)
		}
		if n := requests.Load(); n != 2 {
			t.Errorf("the target got %d requests, want 2: the GET it answered with a 103 went again", n)
		}
	})

	t.Run("closed on the next request", func(t *testing.T) {
		// The target reads a second request on a connection and closes it
		// without an answer. Replayable requests go again on a new
		// connection; others fail with 502 on both paths.
		for _, fw := range forwarders {
			t.Run(fw.name, func(t *testing.T) {
				target := newRawTarget(t, func(c net.Conn, _ string, n int) bool {
					if n > 0 {
						return false
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					return true
				})
				url := proxyTo(t, fw.opts, target.addr)
				c := newClient()
				do(t, c, "GET", url, false)
				if o := do(t, c, "GET", url, false); o.status != 200 || o.body != "ok" {
					t.Errorf("GET on a connection the target drops: %d %q, want 200 ok", o.status, o.body)
				}
				want := "502 Bad Gateway: target " + target.addr + " failed: connection closed\n"
				if o := do(t, c, "POST", url, false); o.status != 502 || o.body != want {
					t.Errorf("POST on a connection the target drops: %d %q, want 502 %q", o.status, o.body, want)
				}
			})
		}
	})
}

// TestBothPathsSendTheSameRequest compares the request heads a target
// gets through the fast path and through httputil.ReverseProxy.
func TestBothPathsSendTheSameRequest(t *testing.T) {
	heads := make(chan string, 1)
	target := newRawTarget(t, func(c net.Conn, head string, _ int) bool {
		heads <- head
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return true
	})
	cfg := oneListener(forward("app", 1), group("app", target.addr))
	fast := startProxyWith(t, Options{}, cfg)
	slow := startProxyWith(t, Options{DisableFastPath: true}, cfg)
	c := newClient()

	requests := []struct {
		method, path string
		host         string
		header       map[string][]string
	}{
		{method: "GET", path: "/a/b?x=1&y=%20z"},
		{method: "GET", path: "/a%2Fb", host: "app.example.com"},
		{method: "HEAD", path: "/"},
		{method: "DELETE", path: "/thing/1"},
		{method: "POST", path: "/empty"},
		{method: "OPTIONS", path: "/"},
		{method: "GET", path: "/", header: map[string][]string{
			"X-Forwarded-For":     {"203.0.113.7", "198.51.100.1"},
			"X-Forwarded-Host":    {"evil.example"},
			"X-Forwarded-Proto":   {"https"},
			"Forwarded":           {"for=1.2.3.4"},
			"Connection":          {"X-Hop, keep-alive"},
			"X-Hop":               {"secret"},
			"Keep-Alive":          {"timeout=5"},
			"Proxy-Authorization": {"Basic eA=="},
			"X-Multi":             {"one", "two"},
			"User-Agent":          {""},
			"Accept-Encoding":     {"gzip, br"},
		}},
	}
	for _, rq := range requests {
		var got [2]string
		for i, p := range []*Proxy{fast, slow} {
			req, _ := http.NewRequest(rq.method, baseURL(p, "web")+rq.path, nil)
			if rq.host != "" {
				req.Host = rq.host
			}
			for k, v := range rq.header {
				req.Header[k] = v
			}
			req.Header.Set("X-Request-Id", "fixed-id")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got[i] = normalizeHead(<-heads, p.Addr("web").String())
		}
		if got[0] != got[1] {
			t.Errorf("%s %s: the fast path sends\n%s\nReverseProxy sends\n%s", rq.method, rq.path, got[0], got[1])
		}
	}
}

// normalizeHead sorts the header lines of a request head (their order
// carries no meaning across names) and hides the proxy's own address.
func normalizeHead(head, proxyAddr string) string {
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	slices.Sort(lines[1:])
	return strings.ReplaceAll(strings.Join(lines, "\n"), proxyAddr, "PROXY")
}

func TestRequestsAreAbortedOnTheTarget(t *testing.T) {
	// hang answers nothing and reports when the proxy closes the
	// connection: the request was aborted, not left to run.
	hang := func(t *testing.T) (target *rawTarget, got, closed chan struct{}) {
		got, closed = make(chan struct{}, 1), make(chan struct{}, 1)
		target = newRawTarget(t, func(c net.Conn, _ string, _ int) bool {
			got <- struct{}{}
			io.Copy(io.Discard, c) // until the proxy closes it
			closed <- struct{}{}
			return false
		})
		return target, got, closed
	}

	t.Run("deregistration delay over", func(t *testing.T) {
		for _, fw := range forwarders {
			t.Run(fw.name, func(t *testing.T) {
				target, got, closed := hang(t)
				other := newBackend(t, "other", nil)
				g := group("app", target.addr)
				g.DeregistrationDelay = 300 * time.Millisecond
				p := startProxyWith(t, fw.opts, oneListener(forward("app", 1), g))
				res := make(chan outcome, 1)
				go func() { res <- do(t, newClient(), "GET", baseURL(p, "web")+"/", false) }()
				<-got
				g.Targets = []string{other.addr}
				mustApply(t, p, oneListener(forward("app", 1), g))
				want := "502 Bad Gateway: target " + target.addr + " was deregistered\n"
				if o := <-res; o.status != 502 || o.body != want {
					t.Errorf("request cut by the drain: %d %q, want 502 %q", o.status, o.body, want)
				}
				<-closed
				<-p.Drained("app", target.addr)
			})
		}
	})

	t.Run("client gone", func(t *testing.T) {
		for _, fw := range forwarders {
			t.Run(fw.name, func(t *testing.T) {
				target, got, closed := hang(t)
				p := startProxyWith(t, fw.opts, oneListener(forward("app", 1), group("app", target.addr)))
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, "GET", baseURL(p, "web")+"/", nil)
				errc := make(chan error, 1)
				go func() {
					resp, err := newClient().Do(req)
					if err == nil {
						resp.Body.Close()
					}
					errc <- err
				}()
				<-got
				cancel()
				if err := <-errc; err == nil {
					t.Fatal("the cancelled request succeeded")
				}
				<-closed
				eventually(t, "the request to be recorded", func() bool {
					return p.Metrics().Window("app", time.Minute).Requests == 1
				})
				if w := p.Metrics().Window("app", time.Minute); w.Errors != 0 {
					t.Errorf("a request the client gave up on counts as a target error: %+v", w)
				}
				if st, _ := targetState(p, "app", target.addr); st.InFlight != 0 {
					t.Errorf("%d requests in flight after the client left, want 0", st.InFlight)
				}
			})
		}
	})
}

func TestDrainedTargetsConnectionsAreClosed(t *testing.T) {
	// ReverseProxy's Transport keeps idle connections until they time
	// out; the fast path closes a target's connections when it drains.
	target := newRawTarget(t, func(c net.Conn, _ string, _ int) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	other := newBackend(t, "other", nil)
	g := group("app", target.addr)
	p := startProxy(t, oneListener(forward("app", 1), g))
	if o := do(t, newClient(), "GET", baseURL(p, "web")+"/", false); o.status != 200 || target.open.Load() != 1 {
		t.Fatalf("got %d with %d open connections, want 200 over one kept-alive connection", o.status, target.open.Load())
	}
	g.Targets = []string{other.addr}
	mustApply(t, p, oneListener(forward("app", 1), g))
	<-p.Drained("app", target.addr)
	eventually(t, "the drained target's idle connection to be closed", func() bool {
		return target.open.Load() == 0
	})
}

// A request whose client is gone before it is sent is not sent: the
// abort (exchange.abortOnCancel) set the connection's deadlines in the
// past, and the response timeout's read deadline, set after it, must not
// let the request through.
func TestARequestAbortedBeforeItIsSentIsNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := dial(t.Context(), &net.Dialer{}, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c.br = bufio.NewReader(&c.fr)
	c.bw = bufio.NewWriter((*upstreamWriter)(c))

	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(context.Canceled) // the client went away
	c.conn.SetDeadline(aLongTimeAgo)
	x := &exchange{ctx: ctx, cancel: cancel}
	r, _ := http.NewRequest(http.MethodPost, "http://a/", nil)
	f := &fastForwarder{}
	_, written, _, err := f.exchangeHead(x, r, nil, c, &scratch{}, time.Now().Add(5*time.Second))
	if err == nil || written {
		t.Fatalf("exchangeHead = written %v, err %v; want not written, an error", written, err)
	}
	peer.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := peer.Read(make([]byte, 1)); n > 0 {
		t.Fatal("the target got the aborted request")
	}
}
