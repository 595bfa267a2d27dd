package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// This file is the HTTP/1.1 wire format of the fast path: the request
// head it writes and the response head and body framing it reads. The
// reader is strict on purpose: a response whose framing is ambiguous is
// refused (502) rather than guessed at, so the proxy and a target can
// never disagree on where one response ends and the next begins.

// maxResponseHeadBytes bounds a response head (status line and headers).
const maxResponseHeadBytes = 1 << 20

// Errors of the response parser. errMalformedResponse and its wrappers
// read "bad response" in the 502 body (see describe).
var (
	errMalformedResponse = errors.New("malformed HTTP response")
	errHeadTooLarge      = errors.New("response head too large")
	errAmbiguousLength   = errors.New("response has both Content-Length and Transfer-Encoding")
	errBadChunk          = errors.New("malformed chunked encoding")
)

// responseHead is the parsed head of one response. Keys and values are
// substrings of one string allocated per head.
type responseHead struct {
	status        int
	proto11       bool  // HTTP/1.1, else HTTP/1.0
	contentLength int64 // -1: not given
	chunked       bool
	close         bool // the target will close the connection after it
	fields        []headerField
	trailer       []string // Trailer header values, for chunked responses
	connection    []string // Connection header values
}

type headerField struct{ key, value string }

// readHead reads one head, up to and including the empty line, appending
// it to buf. It returns what was read even on error, so the caller knows
// whether any byte of a response arrived.
func readHead(br *bufio.Reader, buf []byte) ([]byte, error) {
	return readLines(br, buf, false)
}

// readLines reads lines up to and including an empty one. emptyOK allows
// the empty line to be the first, as in an empty trailer section.
func readLines(br *bufio.Reader, buf []byte, emptyOK bool) ([]byte, error) {
	lineStart := len(buf)
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > maxResponseHeadBytes {
			return buf, errHeadTooLarge
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(buf) > 0:
			return buf, io.ErrUnexpectedEOF
		case err != nil:
			return buf, err
		}
		line := buf[lineStart:]
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			if lineStart == 0 && !emptyOK {
				// A response cannot start with an empty line.
				return buf, errMalformedResponse
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// parseHead parses a head read by readHead. It validates framing: at
// most one distinct Content-Length, Transfer-Encoding only as a single
// "chunked", never both.
func parseHead(s string, fields []headerField) (responseHead, error) {
	h := responseHead{contentLength: -1, fields: fields[:0]}
	line, rest, ok := cutLine(s)
	if !ok || !h.parseStatusLine(line) {
		return h, errMalformedResponse
	}
	keepAlive := false
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return h, errMalformedResponse
		}
		if line == "" {
			break
		}
		key, value, err := parseField(line)
		if err != nil {
			return h, err
		}
		ka, err := h.addField(key, value)
		if err != nil {
			return h, err
		}
		keepAlive = keepAlive || ka
	}
	if rest != "" {
		return h, errMalformedResponse
	}
	if h.chunked && h.contentLength >= 0 {
		return h, errAmbiguousLength
	}
	if h.chunked && !h.proto11 {
		return h, errMalformedResponse
	}
	if !h.proto11 && !keepAlive {
		h.close = true
	}
	return h, nil
}

// parseStatusLine reads HTTP/1.x SP 3DIGIT [SP reason] into h.
func (h *responseHead) parseStatusLine(line string) (ok bool) {
	if len(line) < 12 || line[:7] != "HTTP/1." || line[8] != ' ' {
		return false
	}
	switch line[7] {
	case '1':
		h.proto11 = true
	case '0':
	default:
		return false
	}
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return false
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return len(line) == 12 || (line[12] == ' ' && validFieldValue(line[13:]))
}

// addField takes one header field into h: the framing fields into their
// own members, the rest into h.fields. keepAlive reports a Connection
// field naming keep-alive.
func (h *responseHead) addField(key, value string) (keepAlive bool, err error) {
	switch key {
	case "Content-Length":
		n, ok := parseContentLength(value)
		if !ok || (h.contentLength >= 0 && n != h.contentLength) {
			return false, errMalformedResponse
		}
		if h.contentLength < 0 { // else an identical duplicate
			h.contentLength = n
			h.fields = append(h.fields, headerField{key, value})
		}
	case "Transfer-Encoding":
		if h.chunked || !strings.EqualFold(value, "chunked") {
			return false, errMalformedResponse
		}
		h.chunked = true
	case "Connection":
		h.connection = append(h.connection, value)
		if hasToken(value, "close") {
			h.close = true
		}
		keepAlive = hasToken(value, "keep-alive")
	case "Trailer":
		h.trailer = append(h.trailer, value)
	default:
		h.fields = append(h.fields, headerField{key, value})
	}
	return keepAlive, nil
}

// cutLine splits off one line ending in LF or CRLF. A CR anywhere else is
// refused.
func cutLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", "", false
	}
	line, rest = s[:i], s[i+1:]
	line = strings.TrimSuffix(line, "\r")
	if strings.IndexByte(line, '\r') >= 0 {
		return "", "", false
	}
	return line, rest, true
}

// parseField splits "Name: value" and canonicalizes the name. Folded
// lines (obs-fold) and whitespace before the colon are refused.
func parseField(line string) (key, value string, err error) {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 {
		return "", "", errMalformedResponse
	}
	key = line[:colon]
	for i := 0; i < len(key); i++ {
		if !isTokenChar(key[i]) {
			return "", "", errMalformedResponse
		}
	}
	value = strings.Trim(line[colon+1:], " \t")
	if !validFieldValue(value) {
		return "", "", errMalformedResponse
	}
	if !isCanonicalKey(key) {
		key = textproto.CanonicalMIMEHeaderKey(key)
	}
	return key, value, nil
}

// parseContentLength accepts 1 to 18 decimal digits.
func parseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// bodyAllowed reports whether a response to method with status has a
// body at all (RFC 9112, section 6.3).
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// hopByHop reports whether a header applies to one connection only and
// is not forwarded (the list httputil.ReverseProxy uses).
func hopByHop(key string) bool {
	switch key {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listedIn reports whether key is named by one of the Connection header
// values, which makes it hop-by-hop too.
func listedIn(connection []string, key string) bool {
	for _, v := range connection {
		if hasToken(v, key) {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list v contains token,
// case-insensitively.
func hasToken(v, token string) bool {
	for v != "" {
		var item string
		item, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.Trim(item, " \t"), token) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTokenChar reports whether c may appear in a header name (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validFieldValue refuses control characters other than tab.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isCanonicalKey reports whether key is already in the form
// textproto.CanonicalMIMEHeaderKey would give it, as most targets send
// them; then it needs no copy.
func isCanonicalKey(key string) bool {
	upper := true
	for i := 0; i < len(key); i++ {
		c := key[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// chunkedReader decodes a chunked body and reads its trailer section.
// It requires CRLF line ends in the framing.
type chunkedReader struct {
	br      *bufio.Reader
	left    int64 // bytes left in the current chunk
	done    bool  // the last chunk and trailers were read
	trailer string
	err     error
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

// next returns the decoded bytes available now without copying them, at
// least one byte unless the body is over (io.EOF) or broken. The caller
// consumes them with consume.
func (c *chunkedReader) next() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	for c.left == 0 {
		if c.done {
			return nil, io.EOF
		}
		if err := c.beginChunk(); err != nil {
			c.err = err
			return nil, err
		}
	}
	n := c.br.Buffered()
	if n == 0 {
		if _, err := c.br.Peek(1); err != nil {
			c.err = unexpected(err)
			return nil, c.err
		}
		n = c.br.Buffered()
	}
	b, _ := c.br.Peek(int(min(int64(n), c.left)))
	return b, nil
}

// consume marks n bytes returned by next as used.
func (c *chunkedReader) consume(n int) error {
	c.br.Discard(n)
	c.left -= int64(n)
	if c.left == 0 {
		if err := c.expectCRLF(); err != nil {
			c.err = err
			return err
		}
	}
	return nil
}

// beginChunk reads a chunk-size line; for the last chunk it reads the
// trailer section too.
func (c *chunkedReader) beginChunk() error {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return errBadChunk
		}
		return unexpected(err)
	}
	if len(line) > maxChunkLine || len(line) < 3 || line[len(line)-2] != '\r' {
		return errBadChunk
	}
	line = line[:len(line)-2]
	var size int64
	digits := 0
	for ; digits < len(line); digits++ {
		d, ok := hexDigit(line[digits])
		if !ok {
			break
		}
		if digits == 15 {
			return errBadChunk // would overflow
		}
		size = size<<4 | int64(d)
	}
	if digits == 0 {
		return errBadChunk
	}
	if ext := line[digits:]; len(ext) > 0 {
		// Chunk extensions are ignored, but must look like some.
		ext = trimLeftOWS(ext)
		if len(ext) == 0 || ext[0] != ';' || !validFieldValue(string(ext)) {
			return errBadChunk
		}
	}
	if size > 0 {
		c.left = size
		return nil
	}
	c.done = true
	return c.readTrailer()
}

func (c *chunkedReader) readTrailer() error {
	buf, err := readLines(c.br, nil, true)
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	// Every trailer line must look like a header field.
	for s := string(buf); ; {
		line, rest, ok := cutLine(s)
		if !ok {
			return errBadChunk
		}
		if line == "" {
			break
		}
		if _, _, err := parseField(line); err != nil {
			return errBadChunk
		}
		s = rest
	}
	if len(buf) > 2 {
		c.trailer = string(buf)
	}
	return nil
}

func (c *chunkedReader) expectCRLF() error {
	b, err := c.br.Peek(2)
	if err != nil {
		return unexpected(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errBadChunk
	}
	c.br.Discard(2)
	return nil
}

// trailerFields parses the trailer section read after the last chunk.
func (c *chunkedReader) trailerFields(yield func(key, value string)) {
	s := c.trailer
	for s != "" {
		line, rest, _ := cutLine(s)
		if line == "" {
			return
		}
		if key, value, err := parseField(line); err == nil {
			yield(key, value)
		}
		s = rest
	}
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// unexpected turns the end of the stream inside a body into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
