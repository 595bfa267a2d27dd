package proxy

import (
	"bufio"
	"net"
	"net/http"
	"strings"
)

// Upgrades (WebSockets and other protocols switched to from HTTP/1.1) on
// plain listeners take the fast path: the request goes to the target as
// any bodiless request does, with its Upgrade, and a 101 answer turns the
// client's connection and the target's into a relay that, while both
// sides are quiet, holds no goroutine and no buffer (relay_linux.go).
// Elsewhere, and for HTTP/2 target groups, upgrades go through
// httputil.ReverseProxy as before.

// upgradeEligible reports whether r asks for an upgrade the fast path
// can relay: an HTTP/1.1 GET without a body, with one Upgrade.
func upgradeEligible(r *http.Request) bool {
	h := r.Header
	return r.ProtoMajor == 1 && r.ProtoMinor == 1 && r.Method == http.MethodGet &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		len(h["Upgrade"]) == 1 && listedIn(h["Connection"], "Upgrade") &&
		h["Expect"] == nil && h["Te"] == nil && h["Trailer"] == nil
}

// switchProtocols answers the client with the target's 101 and relays
// the two connections from then on. The client's exchange ends when the
// relay does.
func (f *fastForwarder) switchProtocols(x *exchange, r *http.Request, w http.ResponseWriter, res upstreamResponse) {
	c, head := res.c, &res.head
	if !res.stop() {
		f.discard(c) // the client went away meanwhile: a 499
		return
	}
	x.upstreamStatus = http.StatusSwitchingProtocols
	if got := headValue(head, "Upgrade"); !strings.EqualFold(got, r.Header.Get("Upgrade")) {
		f.discard(c)
		x.status = http.StatusBadGateway
		writeError(w, http.StatusBadGateway, "502 Bad Gateway: the target switched to "+got+", not to the protocol asked for\n")
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		f.discard(c)
		x.status = http.StatusInternalServerError
		writeError(w, http.StatusInternalServerError, "500 Internal Server Error: cannot switch protocols on this connection\n")
		return
	}
	if err := f.greet(brw, c, head); err != nil {
		x.status = statusClientClosed
		f.discard(c)
		client.Close()
		return
	}
	if err := sendEarly(client, brw.Reader, c.conn); err != nil {
		x.status = http.StatusBadGateway
		f.discard(c)
		client.Close()
		return
	}
	target := c.conn
	f.bufs.putReader(c.br)
	f.bufs.putWriter(c.bw)
	c.br, c.bw = nil, nil
	// The exchange lives as long as the relay: let go of net/http's
	// response, which holds the request and the hijacked buffers.
	x.w.ResponseWriter = nil
	x.relays.start(x, client, target)
}

// greet writes the target's 101 head to the client, and what the target
// sent after it that its reader holds.
func (f *fastForwarder) greet(brw *bufio.ReadWriter, c *upstreamConn, head *responseHead) error {
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for _, fl := range head.fields {
		writeField(brw.Writer, fl.key, fl.value)
	}
	for _, v := range head.connection {
		writeField(brw.Writer, "Connection", v)
	}
	brw.WriteString("\r\n")
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		brw.Write(b)
	}
	return brw.Flush()
}

// sendEarly sends the target what the client sent after its upgrade
// request and was read already: by net/http (br), or framed by the
// client's parkConn.
func sendEarly(client net.Conn, br *bufio.Reader, target net.Conn) error {
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := target.Write(b); err != nil {
			return err
		}
	}
	if pc := parkConnOf(client); pc != nil {
		if b := pc.takeBuffered(); len(b) > 0 {
			if _, err := target.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// headValue returns the first value of the field key in head.
func headValue(head *responseHead, key string) string {
	for _, fl := range head.fields {
		if fl.key == key {
			return fl.value
		}
	}
	return ""
}
