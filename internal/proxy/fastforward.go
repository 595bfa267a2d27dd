package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// fastForwarder forwards plain HTTP/1.1 requests without a body over its
// own keep-alive connections, with none of the per-request copying of
// httputil.ReverseProxy. Everything else (upgrades, request bodies,
// HTTP/2 clients, Expect, trailers) goes to next. The rules are those of
// the reverse proxy path: the same headers reach the target, the same
// retries, timeouts, errors and outlier accounting apply.
type fastForwarder struct {
	next    Forwarder
	dialer  *net.Dialer
	bufs    bufferPools
	scratch sync.Pool // *scratch
}

// scratch is per-request working space, reused.
type scratch struct {
	head   []byte
	fields []headerField
}

// max1xxResponses bounds the informational responses before the final
// one, as net/http's Transport does.
const max1xxResponses = 5

var (
	errUnexpected101 = errors.New("101 Switching Protocols to a request without Upgrade")
	errTooMany1xx    = errors.New("too many 1xx responses")
)

// aLongTimeAgo is a deadline that has passed, to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func newFastForwarder(next Forwarder) *fastForwarder {
	return &fastForwarder{
		next:   next,
		dialer: &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		bufs:   bufferPools{copies: newBufferPool(copyBufferSize)},
	}
}

// fastPathEligible reports whether the fast path handles r: an HTTP/1.x
// request without a body that asks for nothing special.
func fastPathEligible(r *http.Request) bool {
	h := r.Header
	return r.ProtoMajor == 1 && r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		r.Method != http.MethodConnect &&
		h["Upgrade"] == nil && h["Expect"] == nil && h["Te"] == nil && h["Trailer"] == nil
}

// Forward sends r to its target on the fast path when it can, else
// through next. Upgrades take the fast path where the listener can relay
// them without goroutines (relay_linux.go).
func (f *fastForwarder) Forward(w http.ResponseWriter, r *http.Request) {
	x := exchangeFor(w)
	if x == nil || speaksHTTP2(x.group.settings.Load().protocol) ||
		!fastPathEligible(r) && !(x.relays != nil && upgradeEligible(r)) {
		f.next.Forward(w, r)
		return
	}
	s, _ := f.scratch.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer f.scratch.Put(s)

	res, err := f.try(x, r, w, s)
	if err != nil && x.ctx.Err() == nil && (isDialError(err) || retryableMethod(r.Method)) {
		if g, t := x.act.pick(x.target); t != nil {
			x.unbind()
			x.bind(g, t)
			x.retried = true
			if speaksHTTP2(g.settings.Load().protocol) {
				f.next.Forward(w, r) // the other group speaks HTTP/2
				return
			}
			res, err = f.try(x, r, w, s)
		}
	}
	if err != nil {
		handleError(w, r, err)
		return
	}
	if res.head.status == http.StatusSwitchingProtocols {
		f.switchProtocols(x, r, w, res)
		return
	}
	f.copyResponse(x, r, w, res)
}

// upstreamResponse is a response whose head has been read.
type upstreamResponse struct {
	c    *upstreamConn
	head responseHead
	stop func() bool // ends the abort on cancel (exchange.abortOnCancel)
}

// try is one attempt on x.target, with its response timeout and outlier
// accounting.
func (f *fastForwarder) try(x *exchange, r *http.Request, w http.ResponseWriter, s *scratch) (upstreamResponse, error) {
	var deadline time.Time
	if d := x.group.settings.Load().responseTimeout; d > 0 {
		deadline = time.Now().Add(d)
	}
	res, err := f.roundTrip(x, r, w, s, deadline)
	switch {
	case err == nil:
		x.group.observe(x.target, res.head.status >= 500)
	case x.ctx.Err() == nil || errors.Is(context.Cause(x.ctx), errResponseTimeout):
		x.group.observe(x.target, true)
	}
	return res, err
}

// roundTrip sends the request on a pooled or new connection and reads the
// response head. A pooled connection that the target closed before it
// answered is replaced by a new one when the request can be sent again:
// when it was not written completely, or when it is replayable.
func (f *fastForwarder) roundTrip(x *exchange, r *http.Request, w http.ResponseWriter, s *scratch, deadline time.Time) (upstreamResponse, error) {
	pool := &x.target.conns
	fresh := false
	for {
		var c *upstreamConn
		if !fresh {
			c = pool.get(replayable(r))
		}
		if c == nil {
			var err error
			if c, err = f.dial(x, deadline); err != nil {
				return upstreamResponse{}, err
			}
		}
		c.br = f.bufs.getReader(&c.fr)
		c.bw = f.bufs.getWriter((*upstreamWriter)(c))
		stop := x.abortOnCancel(c.conn)
		head, written, received, err := f.exchangeHead(x, r, w, c, s, deadline)
		if err == nil {
			return upstreamResponse{c: c, head: head, stop: stop}, nil
		}
		stop()
		f.discard(c)
		if c.reused && !received && x.ctx.Err() == nil && (!written || replayable(r)) {
			fresh = true
			continue
		}
		return upstreamResponse{}, err
	}
}

// exchangeHead writes the request and reads the response head, passing
// 1xx responses on to the client. written reports whether the whole
// request went out, received whether any byte of a response came back.
func (f *fastForwarder) exchangeHead(x *exchange, r *http.Request, w http.ResponseWriter, c *upstreamConn, s *scratch, deadline time.Time) (head responseHead, written, received bool, err error) {
	if !deadline.IsZero() {
		c.conn.SetReadDeadline(deadline)
		// An abort before this set both deadlines in the past; the read
		// deadline was just moved, and the request is not to be sent.
		if err := x.ctx.Err(); err != nil {
			return head, false, false, err
		}
	}
	writeRequest(c.bw, r, x)
	if err := c.sendAwaiting(); err != nil {
		return head, false, false, err
	}
	for n1xx := 0; ; n1xx++ {
		s.head, err = readHead(c.br, s.head[:0])
		if err != nil {
			if isTimeout(err) && x.ctx.Err() == nil {
				x.cancel(errResponseTimeout)
			}
			return head, true, n1xx > 0 || len(s.head) > 0, err
		}
		head, err = parseHead(string(s.head), s.fields)
		s.fields = head.fields
		if err != nil {
			return head, true, true, err
		}
		if head.status >= 200 {
			break
		}
		if head.status == http.StatusSwitchingProtocols {
			if r.Header["Upgrade"] != nil {
				break // the upgrade the client asked for (upgrade.go)
			}
			return head, true, true, errUnexpected101
		}
		if n1xx == max1xxResponses {
			return head, true, true, errTooMany1xx
		}
		h := w.Header()
		copyHeader(h, &head)
		w.WriteHeader(head.status)
		clear(h) // WriteHeader does not clear them for 1xx
	}
	if !deadline.IsZero() {
		c.conn.SetReadDeadline(time.Time{})
		// The abort may have run before the deadline was cleared.
		if err := x.ctx.Err(); err != nil {
			return head, true, true, err
		}
	}
	return head, true, true, nil
}

// copyResponse sends the response to the client. A body that breaks off
// aborts the client's response too (http.ErrAbortHandler), so the client
// never takes a truncated body for a complete one. The connection goes
// back to the pool only if the response was read exactly to its end.
func (f *fastForwarder) copyResponse(x *exchange, r *http.Request, w http.ResponseWriter, res upstreamResponse) {
	c, head := res.c, &res.head
	h := w.Header()
	copyHeader(h, head)
	x.upstreamStatus = head.status
	w.WriteHeader(head.status)

	reusable := !head.close
	var err error
	var trailer *chunkedReader
	c.bodiless = !bodyAllowed(r.Method, head.status)
	if !c.bodiless {
		c.fr.flusher, _ = x.w.ResponseWriter.(http.Flusher)
		c.fr.dirty = c.fr.flusher != nil
		switch {
		case head.chunked:
			trailer = &chunkedReader{br: c.br}
			err = copyChunked(w, &c.fr, trailer)
		case head.contentLength >= 0:
			err = f.copyBody(w, &c.fr, c.br, head.contentLength)
		default:
			reusable = false
			err = f.copyBody(w, &c.fr, c.br, -1)
		}
		c.fr.flusher, c.fr.dirty = nil, false
	}
	if !res.stop() || c.br.Buffered() > 0 {
		reusable = false // aborted, or the target sent more than a response
	}
	if err != nil {
		f.discard(c)
		panic(http.ErrAbortHandler)
	}
	if trailer != nil && trailer.trailer != "" {
		if fl, ok := x.w.ResponseWriter.(http.Flusher); ok {
			fl.Flush() // forces chunking, so the trailers can follow
		}
		trailer.trailerFields(func(key, value string) {
			if !listedIn(head.trailer, key) {
				key = http.TrailerPrefix + key
			}
			h[key] = append(h[key], value)
		})
	}
	if reusable {
		x.target.conns.put(c, &f.bufs)
	} else {
		f.discard(c)
	}
}

// copyBody copies n bytes of body, or everything until the target closes
// the connection if n is negative. What the reader has buffered is
// written from its buffer; a large rest is read around it, in
// copyBufferSize pieces.
func (f *fastForwarder) copyBody(w io.Writer, fr *flushingReader, br *bufio.Reader, n int64) error {
	var big *[]byte
	defer func() {
		if big != nil {
			f.bufs.copies.put(big)
		}
	}()
	for n != 0 {
		var b []byte
		var readErr error
		if br.Buffered() == 0 && (n < 0 || n >= upstreamReadBuffer) {
			if big == nil {
				big = f.bufs.copies.get()
			}
			b = *big
			if n > 0 && int64(len(b)) > n {
				b = b[:n]
			}
			var k int
			k, readErr = fr.Read(b)
			b = b[:k]
		} else {
			if _, readErr = br.Peek(1); readErr == nil {
				b, _ = br.Peek(br.Buffered())
				if n > 0 && int64(len(b)) > n {
					b = b[:n]
				}
				br.Discard(len(b))
			}
		}
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			fr.dirty = fr.flusher != nil
			if n > 0 {
				n -= int64(len(b))
			}
		}
		if readErr != nil && n != 0 {
			if n < 0 && readErr == io.EOF {
				return nil
			}
			return unexpected(readErr)
		}
	}
	return nil
}

func copyChunked(w io.Writer, fr *flushingReader, cr *chunkedReader) error {
	for {
		b, err := cr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		fr.dirty = fr.flusher != nil
		if err := cr.consume(len(b)); err != nil {
			return err
		}
	}
}

// copyHeader puts the end-to-end fields of head into h; Connection and
// the fields it names, and the other hop-by-hop fields, stay behind.
func copyHeader(h http.Header, head *responseHead) {
	values := make([]string, len(head.fields))
	for i, fl := range head.fields {
		if hopByHop(fl.key) || (head.connection != nil && listedIn(head.connection, fl.key)) {
			continue
		}
		if old, ok := h[fl.key]; ok {
			h[fl.key] = append(old, fl.value)
			continue
		}
		values[i] = fl.value
		h[fl.key] = values[i : i+1 : i+1]
	}
	if head.chunked && head.trailer != nil {
		h["Trailer"] = head.trailer
	}
}

// dial opens a connection to x.target; it counts against the response
// timeout, as a dial inside http.Transport does.
func (f *fastForwarder) dial(x *exchange, deadline time.Time) (*upstreamConn, error) {
	ctx := x.ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err := dial(ctx, f.dialer, x.target.addr)
	if err != nil && !deadline.IsZero() && !time.Now().Before(deadline) && x.ctx.Err() == nil {
		x.cancel(errResponseTimeout)
	}
	return c, err
}

func (f *fastForwarder) discard(c *upstreamConn) {
	c.conn.Close()
	f.bufs.putReader(c.br)
	f.bufs.putWriter(c.bw)
	c.br, c.bw = nil, nil
}

// replayable reports whether a bodiless request may be sent again after
// the target closed a kept-alive connection without answering, by the
// rules of net/http's Transport.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

// writeRequest writes the head of the request the target gets: the
// headers of r without hop-by-hop ones, the client's Host, and the
// X-Forwarded-* and X-Request-Id fields, as the reverse proxy path sends
// them. It has no body: the fast path takes only bodiless requests.
func writeRequest(bw *bufio.Writer, r *http.Request, x *exchange) {
	host := r.Host
	if host == "" {
		host = x.target.addr
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	if ua := r.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		writeField(bw, "User-Agent", ua[0])
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		// As net/http's Transport: many servers expect a length here.
		bw.WriteString("Content-Length: 0\r\n")
	}
	connection := r.Header["Connection"]
	for key, values := range r.Header {
		switch key {
		case "Host", "User-Agent", "Content-Length", "Forwarded", "X-Forwarded-For",
			"X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id":
			continue
		}
		if hopByHop(key) || (connection != nil && listedIn(connection, key)) {
			continue
		}
		for _, v := range values {
			writeField(bw, key, v)
		}
	}
	if clientIP, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		for _, prior := range r.Header["X-Forwarded-For"] {
			bw.WriteString(prior)
			bw.WriteString(", ")
		}
		bw.WriteString(clientIP)
		bw.WriteString("\r\n")
	}
	writeField(bw, "X-Forwarded-Host", r.Host)
	if r.TLS == nil {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	}
	writeField(bw, "X-Request-Id", x.requestID)
	if up := r.Header["Upgrade"]; up != nil {
		// Hop-by-hop, but the point of an upgrade request (upgrade.go).
		bw.WriteString("Connection: Upgrade\r\n")
		writeField(bw, "Upgrade", up[0])
	}
	bw.WriteString("\r\n")
}

func writeField(bw *bufio.Writer, key, value string) {
	bw.WriteString(key)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}
