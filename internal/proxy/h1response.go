package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1response is the own server's http.ResponseWriter (h1server_linux.go). It
// writes what net/http's server would write for the same calls: the
// same status line, header fields (sorted, with Date, and Content-Type
// sniffed when missing), framing (a Content-Length computed when the
// handler ends within the first 2 KiB of body, else chunked), trailers,
// and the same rules for closing the connection after the response. It
// writes into the connection's buffered writer, which is flushed when
// the handler flushes and when the response ends.
type h1response struct {
	bw *bufio.Writer // the connection's
	// The request's cancellation, set by the caller of reset: its
	// context and that context's cancel, given to the connection's
	// cancelRequest, which also aborts the target connection the request
	// waits on; watch notes that connection (h1conn.watch). The exchange
	// uses cancelFunc and watch (listener.newExchange).
	ctx       context.Context
	cancelCtx context.CancelCauseFunc
	conn      requestCanceller
	watch     func(net.Conn) (stop func() bool)
	server    shutter // closing: the connection closes after the response
	date      *dateCache
	isHEAD    bool

	header http.Header
	// held is the header as of the final WriteHeader while the head
	// waits for the body's first bytes or its end; nil once written or
	// when the head was written at once.
	held        http.Header
	status      int  // 0 until the final WriteHeader
	headWritten bool // the final head is in the writer
	done        bool // the handler has returned

	contentLength int64 // as declared or computed; -1: none
	written       int64
	chunking      bool
	pending       []byte   // body written while the head waits
	overflow      []byte   // the write that ends the wait, while the head is decided
	declared      []string // trailer names the head declared
	closeAfter    bool     // the connection closes after the response
	err           error    // the first write error; the response is lost
}

// requestCanceller is the connection a response is written on (h1conn).
type requestCanceller interface {
	cancelRequest(ctx context.Context, cancel context.CancelCauseFunc, cause error)
}

// cancel cancels the request (and aborts the target connection it waits
// on) while w serves it.
func (w *h1response) cancel(cause error) { w.conn.cancelRequest(w.ctx, w.cancelCtx, cause) }

// cancelFunc is cancel bound to the request w serves now, for the
// exchange, whose cancels may come late, from other goroutines (a
// target's cut, a response timer), when w already serves the connection's
// next request: the connection then leaves that one alone. Made only for
// a request that goes to a target.
func (w *h1response) cancelFunc() context.CancelCauseFunc {
	conn, ctx, cancel := w.conn, w.ctx, w.cancelCtx
	return func(cause error) { conn.cancelRequest(ctx, cancel, cause) }
}

// shutter is the server a response is written for: it tells whether it
// shuts down. (An interface rather than a method value, which would be
// allocated for each response.)
type shutter interface{ closed() bool }

// pendingMax is how much body waits for the handler to end before the
// head is written, as net/http's 2 KiB response buffer.
const pendingMax = 2 << 10

// reset makes w a new response to r, writing header, which it clears:
// the own server reuses one response and its header map per connection.
// The caller sets the fields of the request's cancellation.
func (w *h1response) reset(bw *bufio.Writer, r *http.Request, server shutter, date *dateCache, header http.Header) {
	clear(header)
	*w = h1response{
		bw: bw, server: server, date: date, isHEAD: r.Method == http.MethodHead,
		header: header, contentLength: -1, closeAfter: r.Close,
	}
}

func (w *h1response) Header() http.Header { return w.header }

func (w *h1response) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.status = code
	// The head waits for the body when the body could change it: a
	// length to compute, or a Content-Type to sniff. It then has the
	// header as it is now, as under net/http (an invalid Content-Length
	// included, which makes the response chunked).
	cl := w.header.Get("Content-Length")
	if cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		}
	}
	typed := w.header["Content-Type"] != nil || w.header.Get("Content-Encoding") != ""
	if !bodyAllowedForStatus(code) || w.contentLength >= 0 && typed {
		w.writeHead()
		return
	}
	w.held = w.header.Clone()
	if cl != "" && w.contentLength < 0 {
		w.header.Del("Content-Length")
	}
}

// writeInterim writes a 1xx response with the current header, which
// stays for the final response (RFC 8297).
func (w *h1response) writeInterim(code int) {
	bw := w.bw
	writeStatusLine(bw, code)
	writeFields(bw, w.header, func(k string) bool { return k == "Content-Length" || k == "Transfer-Encoding" })
	bw.WriteString("\r\n")
	w.flushWriter()
}

func (w *h1response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.headWritten {
		if len(w.pending)+len(p) <= pendingMax {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.overflow = p // the head is decided on the first bytes, as net/http's full buffer
		w.writeHead()
		w.overflow = nil
	}
	w.writeBody(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func (w *h1response) writeBody(p []byte) {
	if w.isHEAD || len(p) == 0 {
		return
	}
	bw := w.bw
	var err error
	if w.chunking {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err = bw.WriteString("\r\n")
	} else {
		_, err = bw.Write(p)
	}
	w.failed(err)
}

// failed notes the first write error: the client cannot be written to,
// so it is gone, and its request is cancelled, as under net/http.
func (w *h1response) failed(err error) {
	if err != nil && w.err == nil {
		w.err = err
		w.cancel(nil)
	}
}

// Flush sends what is written so far; a response of unknown length is
// chunked from here on.
func (w *h1response) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headWritten {
		w.writeHead()
	}
	w.flushWriter()
}

func (w *h1response) FlushError() error {
	w.Flush()
	return w.err
}

func (w *h1response) flushWriter() { w.failed(w.bw.Flush()) }

// finish ends the response after the handler returned. Its last bytes
// may stay in bw: the server flushes them, waiting for the next request
// when the connection stays open (h1conn.sendAwaiting).
func (w *h1response) finish() {
	w.done = true
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headWritten {
		w.writeHead()
	}
	bw := w.bw
	if w.chunking {
		bw.WriteString("0\r\n")
		if t := w.trailers(); t != nil {
			t.Write(bw)
		}
		bw.WriteString("\r\n")
	}
	if w.contentLength != -1 && w.written != w.contentLength && !w.isHEAD && bodyAllowedForStatus(w.status) {
		w.closeAfter = true // the body is not what the head said
	}
}

// writeHead writes the final head and what body was pending.
func (w *h1response) writeHead() {
	w.headWritten = true
	h := w.header
	if w.held != nil {
		h = w.held
		w.held = nil
	}
	skip, extra := w.frame(h)
	w.declareTrailers(h)
	bw := w.bw
	writeStatusLine(bw, w.status)
	writeFields(bw, h, skip.has)
	for _, kv := range extra.kv[:extra.n] {
		writeField(bw, kv[0], kv[1])
	}
	bw.WriteString("\r\n")
	w.writeBody(w.pending)
	w.pending = nil
}

// frame decides the framing of the response with header h as net/http's
// chunkWriter.writeHeader does: the fields of h to leave out, and those
// to add (Content-Length, Content-Type, Date, Transfer-Encoding,
// Connection).
func (w *h1response) frame(h http.Header) (skip excluded, extra fieldList) {
	te := h.Get("Transfer-Encoding")
	hasTE := te != ""
	bodyAllowed := bodyAllowedForStatus(w.status)
	if w.done && !hasTrailers(h) && !hasTE && bodyAllowed && h["Content-Length"] == nil && (!w.isHEAD || len(w.pending) > 0) {
		w.contentLength = int64(len(w.pending))
		extra.add("Content-Length", strconv.Itoa(len(w.pending)))
	}
	if h.Get("Connection") == "close" || w.server.closed() {
		w.closeAfter = true
	}
	if bodyAllowed {
		if h["Content-Type"] == nil && h.Get("Content-Encoding") == "" && !hasTE && len(w.pending)+len(w.overflow) > 0 {
			extra.add("Content-Type", http.DetectContentType(w.sniffable()))
		}
	} else {
		skip.add("Content-Length", "Transfer-Encoding")
		if w.status == http.StatusNotModified {
			skip.add("Content-Type")
		}
	}
	if h["Date"] == nil {
		extra.add("Date", w.date.now())
	}
	hasCL := w.contentLength != -1
	if hasCL && hasTE && te != "identity" {
		skip.add("Content-Length")
		hasCL = false
	}
	switch {
	case w.isHEAD || !bodyAllowed || hasCL:
		skip.add("Transfer-Encoding")
	case te == "identity":
		w.closeAfter = true
		skip.add("Transfer-Encoding")
	default:
		w.chunking = true
		extra.add("Transfer-Encoding", "chunked")
		skip.add("Content-Length")
		if te == "chunked" {
			skip.add("Transfer-Encoding")
		}
	}
	if w.closeAfter && !listedIn(h["Connection"], "close") {
		skip.add("Connection")
		extra.add("Connection", "close")
	}
	return skip, extra
}

// sniffable returns the body's first bytes, as many as
// http.DetectContentType reads.
func (w *h1response) sniffable() []byte {
	const n = 512
	if len(w.pending) >= n || len(w.overflow) == 0 {
		return w.pending
	}
	if len(w.pending) == 0 {
		return w.overflow
	}
	b := make([]byte, 0, n)
	b = append(b, w.pending...)
	return append(b, w.overflow[:min(len(w.overflow), n-len(b))]...)
}

// fieldList is a few header fields, in the order added.
type fieldList struct {
	kv [5][2]string
	n  int
}

func (l *fieldList) add(key, value string) {
	l.kv[l.n] = [2]string{key, value}
	l.n++
}

// trailers returns the trailer fields set by the handler, as net/http's
// finalTrailers: those set with http.TrailerPrefix, and those the head
// declared in its Trailer field.
func (w *h1response) trailers() http.Header {
	var t http.Header
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[name] = vs
		}
	}
	for _, name := range w.declared {
		for _, v := range w.header[name] {
			if t == nil {
				t = make(http.Header)
			}
			t.Add(name, v)
		}
	}
	return t
}

// declareTrailers notes the trailer names the head declares.
func (w *h1response) declareTrailers(h http.Header) {
	for _, v := range h["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if name != "" && httpguts.ValidTrailerHeader(name) {
				w.declared = append(w.declared, name)
			}
		}
	}
}

func hasTrailers(h http.Header) bool {
	if len(h["Trailer"]) > 0 {
		return true
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// excluded is a small set of header keys not to write.
type excluded struct {
	keys [5]string
	n    int
}

func (e *excluded) add(keys ...string) {
	for _, k := range keys {
		if !e.has(k) && e.n < len(e.keys) {
			e.keys[e.n] = k
			e.n++
		}
	}
}

func (e *excluded) has(k string) bool { return slices.Contains(e.keys[:e.n], k) }

func writeStatusLine(bw *bufio.Writer, code int) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	if text := http.StatusText(code); text != "" {
		bw.WriteString(" ")
		bw.WriteString(text)
	} else {
		bw.WriteString(" status code ")
		bw.WriteString(strconv.Itoa(code))
	}
	bw.WriteString("\r\n")
}

// writeFields writes h's fields sorted by key, as http.Header.Write
// does: invalid keys and TrailerPrefix keys are left out, line breaks
// in values become spaces, and values are trimmed.
func writeFields(bw *bufio.Writer, h http.Header, skip func(string) bool) {
	var store [32]string
	keys := store[:0]
	for k := range h {
		if !skip(k) && !strings.HasPrefix(k, http.TrailerPrefix) && httpguts.ValidHeaderFieldName(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			writeField(bw, k, strings.Trim(v, " \t"))
		}
	}
}

// bodyAllowedForStatus is net/http's rule: no body on 1xx, 204 and 304.
func bodyAllowedForStatus(status int) bool { return bodyAllowed(http.MethodGet, status) }

// dateCache keeps the Date field value of the current second.
type dateCache struct {
	mu   sync.Mutex
	unix int64
	text string
}

func (d *dateCache) now() string {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Unix() != d.unix {
		d.unix, d.text = now.Unix(), now.UTC().Format(http.TimeFormat)
	}
	return d.text
}
