package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// protoHandler answers with the protocol the request arrived in, and a
// trailer. POST /echo answers each line of the body at once, upper-cased.
func protoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		tls := "plain"
		if r.TLS != nil {
			tls = "tls"
		}
		io.WriteString(w, r.Proto+" "+tls)
		w.Header().Set("X-Checksum", "abc123")
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		rc.Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			io.WriteString(w, strings.ToUpper(sc.Text())+"\n")
			rc.Flush()
		}
	})
	return mux
}

func h2Group(name, protocol string, targets ...string) TargetGroupConfig {
	g := group(name, targets...)
	g.Protocol = protocol
	return g
}

// h2cClient speaks HTTP/2 with prior knowledge to the proxy.
func h2cClient() *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &protocols}, Timeout: 20 * time.Second}
}

func TestHTTP2Targets(t *testing.T) {
	tlsTarget := httptest.NewUnstartedServer(protoHandler())
	tlsTarget.EnableHTTP2 = true
	tlsTarget.StartTLS()
	t.Cleanup(tlsTarget.Close)
	tests := []struct {
		protocol, target, want string
	}{
		{ProtocolH2C, h2cServer(t, protoHandler()), "HTTP/2.0 plain"},
		{ProtocolHTTP2, tlsTarget.Listener.Addr().String(), "HTTP/2.0 tls"},
	}
	for _, tc := range tests {
		t.Run(tc.protocol, func(t *testing.T) {
			p := startProxy(t, oneListener(forward("g", 1), h2Group("g", tc.protocol, tc.target)))
			url := baseURL(p, "web") + "/"
			for name, c := range map[string]*http.Client{"HTTP/1.1 client": newClient(), "HTTP/2 client": h2cClient()} {
				resp, err := c.Get(url)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				body := readAll(t, resp)
				if resp.StatusCode != http.StatusOK || body != tc.want {
					t.Errorf("%s: %d %q, want 200 %q", name, resp.StatusCode, body, tc.want)
				}
				if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
					t.Errorf("%s: trailer X-Checksum = %q, want abc123", name, got)
				}
			}
		})
	}
}

// A request body and its response stream at the same time: each line is
// answered before the next is sent.
func TestH2CTargetStreamsBothWays(t *testing.T) {
	p := startProxy(t, oneListener(forward("g", 1), h2Group("g", ProtocolH2C, h2cServer(t, protoHandler()))))
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodPost, baseURL(p, "web")+"/echo", pr)
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	for _, word := range []string{"one", "two", "three"} {
		if _, err := io.WriteString(pw, word+"\n"); err != nil {
			t.Fatal(err)
		}
		got, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", word, err)
		}
		if got != strings.ToUpper(word)+"\n" {
			t.Errorf("answer = %q, want %q", got, strings.ToUpper(word))
		}
	}
}

func TestHTTP2TargetWithoutH2IsBadGateway(t *testing.T) {
	// A TLS target that offers only HTTP/1.1 in ALPN.
	target := httptest.NewTLSServer(protoHandler())
	t.Cleanup(target.Close)
	p := startProxy(t, oneListener(forward("g", 1), h2Group("g", ProtocolHTTP2, target.Listener.Addr().String())))
	status, body := get(t, newClient(), baseURL(p, "web")+"/")
	if status != http.StatusBadGateway {
		t.Errorf("got %d %q, want 502", status, body)
	}
}

// Header fields reach an h2c target intact over many requests on one
// connection, each request with its own values, and none enters the
// HPACK table (h2EncoderTableSize): the target's side of the connection
// decodes with a table of one byte, which an indexed field would
// overflow (or a table size update above it would be refused).
func TestH2CTargetGetsEachRequestsHeaderFields(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sniff := &sniffListener{Listener: ln}
	serveH2C(t, sniff, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Call")+" "+r.Header.Get("X-Request-Id")+" "+r.URL.Path)
	}))
	p := startProxy(t, oneListener(forward("g", 1), h2Group("g", ProtocolH2C, ln.Addr().String())))
	c := newClient()
	ids := map[string]bool{}
	const requests = 300
	for i := range requests {
		call := fmt.Sprintf("call-%d-%s", i, strings.Repeat("x", i%40))
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/p/%d", baseURL(p, "web"), i), nil)
		req.Header.Set("X-Call", call)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(readAll(t, resp))
		if resp.StatusCode != http.StatusOK || len(got) != 3 || got[0] != call || got[2] != fmt.Sprintf("/p/%d", i) || ids[got[1]] {
			t.Fatalf("request %d: %d, target saw %q; want 200, X-Call %q, a new request ID, path /p/%d", i, resp.StatusCode, got, call, i)
		}
		ids[got[1]] = true
	}
	conns := sniff.received()
	if len(conns) != 1 {
		t.Fatalf("the target saw %d connections, want 1", len(conns))
	}
	if n := decodeRequestHeaders(t, conns[0], 1); n != requests {
		t.Errorf("decoded %d header blocks, want %d", n, requests)
	}
}

// decodeRequestHeaders decodes the header blocks of the client side of an
// HTTP/2 connection with an HPACK table of tableSize bytes, and returns
// how many it decoded; it fails the test at the first that does not
// decode.
func decodeRequestHeaders(t *testing.T, conn []byte, tableSize uint32) int {
	t.Helper()
	rest, ok := bytes.CutPrefix(conn, []byte(http2.ClientPreface))
	if !ok {
		t.Fatalf("the connection does not start with the HTTP/2 preface: %q", conn[:min(len(conn), 24)])
	}
	fr := http2.NewFramer(io.Discard, bytes.NewReader(rest))
	dec := hpack.NewDecoder(tableSize, func(hpack.HeaderField) {})
	blocks := 0
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return blocks // the end, or a frame not yet read in full
		}
		if err != nil {
			t.Fatalf("reading frame after %d header blocks: %v", blocks, err)
		}
		var frag []byte
		switch f := f.(type) {
		case *http2.HeadersFrame:
			frag = f.HeaderBlockFragment()
		case *http2.ContinuationFrame:
			frag = f.HeaderBlockFragment()
		default:
			continue
		}
		if _, err := dec.Write(frag); err != nil {
			t.Fatalf("header block %d does not decode with a %d-byte table: %v", blocks+1, tableSize, err)
		}
		if f.Header().Flags.Has(http2.FlagHeadersEndHeaders) {
			if err := dec.Close(); err != nil {
				t.Fatalf("header block %d: %v", blocks+1, err)
			}
			blocks++
		}
	}
}
