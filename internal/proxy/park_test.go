package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next", 27},
		{"GET / HTTP/1.1\nHost: a\n\n", 24},
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", 26},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"GET / HTTP/1.1\r\nHost: a\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 28},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", -1}, // "\r\r\n" is not an empty line
		{"", -1},
		{"\n\n", 2},
	}
	for _, tt := range tests {
		if got := headEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("headEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestPlainHead(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"HEAD /x?y HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", true},
		{"DELETE /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING : chunked\r\n\r\n", false},
		{"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nHost: a\r\n\r\n", false},
		{"PRI * HTTP/2.0\r\n\r\n", false},
		{"PRI * HTTP/1.1\r\n\r\n", false},
		{"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", false},
		{"\r\nGET / HTTP/1.1\r\n\r\n", false},
		{" HTTP/1.1\r\n\r\n", false},
	}
	for _, tt := range tests {
		if got := plainHead([]byte(tt.in)); got != tt.want {
			t.Errorf("plainHead(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParkFraming checks the invariant parking rests on: when a parkConn
// frames a head as plain, net/http reads that request from exactly those
// bytes, with no body, leaving every byte after them unread.
func FuzzParkFraming(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\nHost: a\n\nxyz"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\t3\r\n\r\nabc"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := headEnd(b)
		if n < 0 || !plainHead(b[:n]) {
			return
		}
		const sentinel = "\x00rest"
		in := append(append([]byte{}, b[:n]...), sentinel...)
		br := bufio.NewReader(bytes.NewReader(in))
		req, err := http.ReadRequest(br)
		if err != nil {
			return // net/http answers 400 and closes: nothing to park
		}
		body, err := io.ReadAll(req.Body)
		if err != nil || len(body) > 0 || req.ContentLength > 0 || len(req.TransferEncoding) > 0 {
			t.Fatalf("framed head %q has a body for net/http: %q (len %d, TE %v, err %v)", b[:n], body, req.ContentLength, req.TransferEncoding, err)
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != sentinel {
			t.Fatalf("net/http read %q of the bytes after the framed head %q", sentinel[:len(sentinel)-len(rest)], b[:n])
		}
	})
}
