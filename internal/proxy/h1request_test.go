package proxy

import (
	"bufio"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, head string
		ok         bool
	}{
		{"plain GET", "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", true},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", true},
		{"repeated field", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nx: 2\r\n\r\n", true},
		{"POST without a body", "POST /p HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"no Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", false},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", false},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", false},
		{"absolute form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"double slash", "GET //evil/x HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", false},
		{"CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n", false},
		{"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x002\r\n\r\n", false},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", false},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"control in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"extra space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := parseRequest(context.Background(), []byte(tt.head), "192.0.2.1:1234")
			if ok != tt.ok {
				t.Fatalf("parseRequest ok = %v, want %v", ok, tt.ok)
			}
			if ok {
				compareWithNetHTTP(t, tt.head, r)
			}
		})
	}
}

// compareWithNetHTTP checks r, from parseRequest, against what net/http's
// server makes of head.
func compareWithNetHTTP(t *testing.T, head string, r *http.Request) {
	t.Helper()
	want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatalf("parseRequest took %q, which net/http refuses: %v", head, err)
	}
	// As net/http's server: the Host field leaves the header.
	delete(want.Header, "Host")
	if len(want.Header) == 0 {
		want.Header = http.Header{}
	}
	got := []any{r.Method, r.URL.String(), r.URL.RawQuery, r.URL.Path, r.RequestURI, r.Host, r.Header, r.Close, r.ContentLength, r.ProtoMinor}
	exp := []any{want.Method, want.URL.String(), want.URL.RawQuery, want.URL.Path, want.RequestURI, want.Host, want.Header, want.Close, want.ContentLength, want.ProtoMinor}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("head %q:\nparseRequest %#v\nnet/http     %#v", head, got, exp)
	}
	if r.Body != http.NoBody {
		t.Fatalf("head %q: body %v, want http.NoBody", head, r.Body)
	}
}

// FuzzParseRequest checks that every head the own server takes is one
// net/http takes too, with the same meaning.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /%41?q=%zz HTTP/1.1\r\nHost: [::1]:80\r\nConnection: keep-alive, Close\r\n\r\n",
		"HEAD /x HTTP/1.1\nhost: a\nPragma: no-cache\n\n",
		"DELETE /a/../b HTTP/1.1\r\nHost: a\r\nX-A: \t v \t\r\nx-a: w\r\n\r\n",
		"GET /\xff HTTP/1.1\r\nHost: a\r\nV: \x80\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		n := headEnd([]byte(head))
		if n < 0 || !plainHead([]byte(head[:n])) {
			return
		}
		head = head[:n]
		if r, ok := parseRequest(context.Background(), []byte(head), "192.0.2.1:1234"); ok {
			compareWithNetHTTP(t, head, r)
		}
	})
}
