package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestResponseWriterMatchesNetHTTP runs each handler under net/http's
// server and on the own server's ResponseWriter, and compares the bytes
// each puts on the wire (Date aside).
func TestResponseWriterMatchesNetHTTP(t *testing.T) {
	big := strings.Repeat("b", 3000)
	tests := []struct {
		name    string
		request string
		handler http.HandlerFunc
	}{
		{"short body, length computed, type sniffed", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>hello</html>")
		}},
		{"declared length", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		}},
		{"long body, chunked", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, big)
		}},
		{"flushed, chunked", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one")
			w.(http.Flusher).Flush()
			io.WriteString(w, "two")
		}},
		{"nothing written", "GET", func(w http.ResponseWriter, r *http.Request) {}},
		{"HEAD with length", "HEAD", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "42")
			w.WriteHeader(200)
		}},
		{"HEAD with a body written", "HEAD", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
		}},
		{"204 keeps no length", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "abc"); err != http.ErrBodyNotAllowed {
				panic("write on a 204: " + err.Error())
			}
		}},
		{"304 keeps no type", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "3")
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		}},
		{"103 then 200", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
		}},
		{"declared trailers", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum, X-Other")
			w.WriteHeader(200)
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
		}},
		{"prefixed trailers", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
		}},
		{"handler closes", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}},
		{"client closes", "GET\r\nConnection: close", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "bye")
		}},
		{"line breaks in a value", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Bad"] = []string{"a\r\nInjected: yes"}
			w.Header()["Bad Key"] = []string{"dropped"}
			io.WriteString(w, "x")
		}},
		{"unknown status", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(599)
		}},
		{"status twice", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.WriteHeader(500)
		}},
		{"length exceeded", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			if _, err := io.WriteString(w, "abc"); err != http.ErrContentLength {
				panic("write past the length: " + err.Error())
			}
		}},
		{"invalid length", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "-1")
			io.WriteString(w, "abc")
		}},
		{"short body with a length, type sniffed", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "%PDF-")
		}},
		{"body shorter than its length", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "short")
		}},
		{"long first write, type sniffed", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>"+big)
		}},
		{"long first write with a length, type sniffed", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)+6))
			io.WriteString(w, "<html>"+big)
		}},
		{"type sniffed across writes", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<ht")
			io.WriteString(w, "ml>"+big)
		}},
		{"trailer declared after the head", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			w.Header().Set("Trailer", "X-Late")
			w.Header().Set("X-Late", "1")
		}},
		{"declared trailer with two values", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "x-sum, Host")
			w.WriteHeader(200)
			w.Header().Add("X-Sum", "1")
			w.Header().Add("X-Sum", "2")
			w.Header().Set("Host", "h")
			w.Header().Set(http.TrailerPrefix+"X-Sum", "3")
		}},
		{"identity encoding", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "identity")
			io.WriteString(w, "abc")
		}},
	}
	date := regexp.MustCompile(`\r\nDate: [^\r]*`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, extra, _ := strings.Cut(tt.request, "\r\n")
			head := method + " /x HTTP/1.1\r\nHost: a\r\n"
			if extra != "" {
				head += extra + "\r\n"
			}
			head += "\r\n"
			want, wantClose := netHTTPResponse(t, head, method, tt.handler)
			got, gotClose := ownResponse(t, head, tt.handler)
			if gotClose != wantClose {
				t.Errorf("own server closes the connection: %v, net/http: %v", gotClose, wantClose)
			}
			want, got = date.ReplaceAllString(want, ""), date.ReplaceAllString(got, "")
			want, got = joinChunks(t, want), joinChunks(t, got)
			if got != want {
				t.Errorf("own server wrote\n%q\nnet/http wrote\n%q", got, want)
			}
		})
	}
}

// netHTTPResponse returns the bytes of net/http's response to head, and
// whether net/http closed the connection after it.
func netHTTPResponse(t *testing.T, head, method string, h http.Handler) (string, bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, head)
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("reading net/http's response: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 200 {
			break
		}
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = br.ReadByte()
	return raw.String()[:raw.Len()-br.Buffered()], err == io.EOF
}

// ownResponse returns the bytes the own server's ResponseWriter writes
// for head, and whether the connection closes after it.
func ownResponse(t *testing.T, head string, h http.Handler) (string, bool) {
	t.Helper()
	r, ok := parseRequest(context.Background(), []byte(head), "192.0.2.1:1234")
	if !ok {
		t.Fatalf("parseRequest refused %q", head)
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := new(h1response)
	w.reset(bw, r, open{}, &dateCache{}, make(http.Header))
	w.conn = noCanceller{}
	h.ServeHTTP(w, r)
	w.finish()
	w.flushWriter()
	return out.String(), w.closeAfter
}

type noCanceller struct{}

// recordingCanceller notes the context of each cancelRequest.
type recordingCanceller struct{ got []context.Context }

func (c *recordingCanceller) cancelRequest(ctx context.Context, _ context.CancelCauseFunc, _ error) {
	c.got = append(c.got, ctx)
}

// The exchange's cancel stays bound to its request: called late, after
// the response was reused for the connection's next request, it names
// the request it was made for, which the connection then ignores.
func TestCancelFuncStaysBoundToItsRequest(t *testing.T) {
	conn := &recordingCanceller{}
	w := new(h1response)
	serve := func() context.Context {
		r, ok := parseRequest(context.Background(), []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "192.0.2.1:1234")
		if !ok {
			t.Fatal("parseRequest refused a plain GET")
		}
		ctx, cancel := context.WithCancelCause(r.Context())
		w.reset(bufio.NewWriter(io.Discard), r, open{}, &dateCache{}, make(http.Header))
		w.ctx, w.cancelCtx, w.conn = ctx, cancel, conn
		return ctx
	}
	first := serve()
	late := w.cancelFunc()
	second := serve()
	late(errors.New("cut"))
	w.cancel(nil)
	if len(conn.got) != 2 || conn.got[0] != first || conn.got[1] != second {
		t.Fatalf("cancelRequest got contexts %v, want the first request's, then the second's", conn.got)
	}
}

func (noCanceller) cancelRequest(context.Context, context.CancelCauseFunc, error) {}

// joinChunks rewrites a chunked body as one chunk: net/http cuts chunks
// where its 2 KiB buffer fills, the own server where the handler writes,
// and either is the same body.
func joinChunks(t *testing.T, raw string) string {
	t.Helper()
	i := strings.Index(raw, "\r\nTransfer-Encoding: chunked\r\n")
	if i < 0 {
		return raw
	}
	j := strings.Index(raw[i:], "\r\n\r\n")
	head, rest := raw[:i+j+4], raw[i+j+4:]
	var body strings.Builder
	for {
		line, after, ok := strings.Cut(rest, "\r\n")
		n, err := strconv.ParseInt(line, 16, 64)
		if !ok || err != nil || int64(len(after)) < n+2 {
			t.Fatalf("bad chunk in %q", raw)
		}
		if n == 0 {
			return fmt.Sprintf("%s%x\r\n%s\r\n0\r\n%s", head, body.Len(), body.String(), after)
		}
		body.WriteString(after[:n])
		rest = after[n+2:]
	}
}

// open is a server that never shuts down.
type open struct{}

func (open) closed() bool { return false }
