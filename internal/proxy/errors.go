package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// handleError answers a request whose forwarding failed before the
// response started: 502 when the target failed, 504 when it timed out.
// A client that went away gets nothing.
func handleError(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFor(w) // ReverseProxy passes on the recorder it was given
	cause := context.Cause(x.ctx)
	switch {
	case x.body.tooLarge.Load():
		bodyTooLarge(w, x)
	case x.body.expired():
		bodyTimedOut(w, x)
	case errors.Is(cause, errResponseTimeout):
		x.status = http.StatusGatewayTimeout
		writeError(w, x.status, "504 Gateway Timeout: target "+x.target.addr+
			" sent no response within "+x.group.settings.Load().responseTimeout.String()+"\n")
	case errors.Is(cause, errDeregistrationDelayOver):
		x.status = http.StatusBadGateway
		writeError(w, x.status, "502 Bad Gateway: target "+x.target.addr+" was deregistered\n")
	case x.ctx.Err() != nil:
		x.status = statusClientClosed
	case isTimeout(err):
		x.status = http.StatusGatewayTimeout
		writeError(w, x.status, "504 Gateway Timeout: target "+x.target.addr+" timed out\n")
	default:
		x.status = http.StatusBadGateway
		writeError(w, x.status, "502 Bad Gateway: target "+x.target.addr+" failed: "+describe(err)+"\n")
	}
}

// bodyTimedOut answers a request whose client stopped sending its body:
// 408 when no body byte went to the target, so the request is safe to
// send again; else the connection is cut, as the target saw part of it.
// Either way the connection closes: the rest of the body is unread.
func bodyTimedOut(w http.ResponseWriter, x *exchange) {
	x.status = http.StatusRequestTimeout
	if x.body.n.Load() > 0 {
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Connection", "close")
	writeError(w, x.status, "408 Request Timeout: no request body data for "+x.body.timeout.String()+"\n")
}

// describe names a transport error in a few words, without internals.
func describe(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "cannot connect"
	}
	return "bad response"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError writes a short plain-text error response.
func writeError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	io.WriteString(w, msg)
}
