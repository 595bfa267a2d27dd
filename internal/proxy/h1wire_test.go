package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestParseHead(t *testing.T) {
	tests := []struct {
		name    string
		head    string
		wantErr error // nil: accepted
		status  int
		length  int64
		chunked bool
		close   bool
	}{
		{name: "content length", head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", status: 200, length: 5},
		{name: "chunked", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", status: 200, length: -1, chunked: true},
		{name: "chunked any case", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", status: 200, length: -1, chunked: true},
		{name: "close delimited", head: "HTTP/1.1 200 OK\r\n\r\n", status: 200, length: -1},
		{name: "no reason phrase", head: "HTTP/1.1 204\r\n\r\n", status: 204, length: -1},
		{name: "bare LF", head: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", status: 200, length: 0},
		{name: "identical duplicate length", head: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", status: 200, length: 3},
		{name: "connection close", head: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status: 200, length: 0, close: true},
		{name: "HTTP/1.0 closes", head: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, length: 0, close: true},
		{name: "HTTP/1.0 keep-alive", head: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", status: 200, length: 0},
		{name: "interim", head: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", status: 103, length: -1},

		{name: "length and chunked", head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: errAmbiguousLength},
		{name: "chunked and length", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", wantErr: errAmbiguousLength},
		{name: "differing lengths", head: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", wantErr: errMalformedResponse},
		{name: "length list", head: "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", wantErr: errMalformedResponse},
		{name: "signed length", head: "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", wantErr: errMalformedResponse},
		{name: "huge length", head: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", wantErr: errMalformedResponse},
		{name: "gzip transfer coding", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: errMalformedResponse},
		{name: "two transfer encodings", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: errMalformedResponse},
		{name: "chunked in HTTP/1.0", head: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: errMalformedResponse},
		{name: "space before colon", head: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", wantErr: errMalformedResponse},
		{name: "folded line", head: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n", wantErr: errMalformedResponse},
		{name: "CR inside a line", head: "HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 0\r\n\r\n", wantErr: errMalformedResponse},
		{name: "NUL in value", head: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", wantErr: errMalformedResponse},
		{name: "HTTP/2 status line", head: "HTTP/2 200 OK\r\n\r\n", wantErr: errMalformedResponse},
		{name: "short status", head: "HTTP/1.1 20 OK\r\n\r\n", wantErr: errMalformedResponse},
		{name: "not HTTP", head: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: errMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHead(tt.head, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("parseHead: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHead: %v", err)
			}
			if h.status != tt.status || h.contentLength != tt.length || h.chunked != tt.chunked || h.close != tt.close {
				t.Errorf("got status %d length %d chunked %v close %v, want %d %d %v %v",
					h.status, h.contentLength, h.chunked, h.close, tt.status, tt.length, tt.chunked, tt.close)
			}
		})
	}
}

func TestParseHeadCanonicalizesKeys(t *testing.T) {
	h, err := parseHead("HTTP/1.1 200 OK\r\ncontent-TYPE: text/plain\r\nX-Custom:  a b \r\n\r\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []headerField{{"Content-Type", "text/plain"}, {"X-Custom", "a b"}}
	if len(h.fields) != 2 || h.fields[0] != want[0] || h.fields[1] != want[1] {
		t.Errorf("fields %v, want %v", h.fields, want)
	}
}

func TestReadHead(t *testing.T) {
	long := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 3*upstreamReadBuffer) + "\r\n\r\n"
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{name: "one head, body left", in: "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", want: "HTTP/1.1 200 OK\r\nA: b\r\n\r\n"},
		{name: "line longer than the buffer", in: long, want: long},
		{name: "nothing", in: "", wantErr: io.EOF},
		{name: "cut off", in: "HTTP/1.1 200 OK\r\nA: b\r\n", wantErr: io.ErrUnexpectedEOF},
		{name: "leading empty line", in: "\r\nHTTP/1.1 200 OK\r\n\r\n", wantErr: errMalformedResponse},
		{name: "too large", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxResponseHeadBytes) + "\r\n\r\n", wantErr: errHeadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), upstreamReadBuffer)
			got, err := readHead(br, nil)
			if err != tt.wantErr {
				t.Fatalf("readHead: %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChunkedReader(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      string
		trailer   string
		wantErr   error
		remaining string // what is left for the next response
	}{
		{name: "two chunks", in: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", want: "hello world", remaining: "NEXT"},
		{name: "extension", in: "5;name=value\r\nhello\r\n0\r\n\r\n", want: "hello"},
		{name: "upper hex", in: "A\r\n0123456789\r\n0\r\n\r\n", want: "0123456789"},
		{name: "trailers", in: "2\r\nok\r\n0\r\nX-Sum: 42\r\nX-Other: a\r\n\r\nNEXT", want: "ok", trailer: "X-Sum: 42\r\nX-Other: a\r\n\r\n", remaining: "NEXT"},
		{name: "no CRLF after data", in: "5\r\nhelloX\r\n0\r\n\r\n", wantErr: errBadChunk},
		{name: "LF only size line", in: "5\nhello\r\n0\r\n\r\n", wantErr: errBadChunk},
		{name: "negative size", in: "-5\r\nhello\r\n0\r\n\r\n", wantErr: errBadChunk},
		{name: "size overflow", in: "10000000000000000\r\n", wantErr: errBadChunk},
		{name: "junk after size", in: "5 x\r\nhello\r\n0\r\n\r\n", wantErr: errBadChunk},
		{name: "cut in data", in: "5\r\nhel", wantErr: io.ErrUnexpectedEOF},
		{name: "cut before last chunk", in: "5\r\nhello\r\n", wantErr: io.ErrUnexpectedEOF},
		{name: "cut in trailers", in: "0\r\nX-Sum: 1\r\n", wantErr: io.ErrUnexpectedEOF},
		{name: "bad trailer", in: "0\r\nnot a field\r\n\r\n", wantErr: errBadChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			cr := &chunkedReader{br: br}
			var got bytes.Buffer
			var err error
			for {
				var b []byte
				if b, err = cr.next(); err != nil {
					break
				}
				got.Write(b)
				if err = cr.consume(len(b)); err != nil {
					break
				}
			}
			if err == io.EOF {
				err = nil
			}
			if err != tt.wantErr {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			rest, _ := io.ReadAll(br)
			if got.String() != tt.want || cr.trailer != tt.trailer || string(rest) != tt.remaining {
				t.Errorf("got %q trailer %q rest %q, want %q %q %q", got.String(), cr.trailer, rest, tt.want, tt.trailer, tt.remaining)
			}
		})
	}
}

// FuzzParseHead checks that whatever the parser accepts, net/http reads
// the same way: same status and the same framing. Both accepting
// different framings is how responses get smuggled.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\nContent-Length: 0\n\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		buf, err := readHead(bufio.NewReader(strings.NewReader(in)), nil)
		if err != nil {
			return
		}
		h, err := parseHead(string(buf), nil)
		if err != nil {
			return
		}
		if h.chunked && h.contentLength >= 0 {
			t.Fatalf("accepted both framings: %q", buf)
		}
		if h.status < 100 || h.status > 999 {
			t.Fatalf("status %d accepted: %q", h.status, buf)
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(buf)), nil)
		if err != nil {
			t.Fatalf("accepted a head net/http refuses (%v): %q", err, buf)
		}
		if res.StatusCode != h.status {
			t.Fatalf("status %d, net/http reads %d: %q", h.status, res.StatusCode, buf)
		}
		if !bodyAllowed(http.MethodGet, h.status) {
			return
		}
		goChunked := len(res.TransferEncoding) > 0
		if goChunked != h.chunked || (!h.chunked && res.ContentLength != h.contentLength) {
			t.Fatalf("framing chunked=%v length=%d, net/http reads chunked=%v length=%d: %q",
				h.chunked, h.contentLength, goChunked, res.ContentLength, buf)
		}
	})
}

// FuzzChunkedReader checks that a body the decoder accepts decodes as
// net/http's decoder decodes it.
func FuzzChunkedReader(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"3;x=y\r\nabc\r\n0\r\nA: b\r\n\r\n",
		"1\r\na\r\n1\r\nb\r\n0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cr := &chunkedReader{br: bufio.NewReaderSize(strings.NewReader(in), 16)}
		var got bytes.Buffer
		for {
			b, err := cr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			got.Write(b)
			if err := cr.consume(len(b)); err != nil {
				return
			}
		}
		want, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("accepted a body net/http refuses (%v): %q", err, in)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("decoded %q, net/http decodes %q", got.Bytes(), want)
		}
	})
}
