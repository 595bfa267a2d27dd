package proxy

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// gRPC status codes the proxy answers with.
const (
	grpcUnknown           = 2
	grpcDeadlineExceeded  = 4
	grpcPermissionDenied  = 7
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInternal          = 13
	grpcUnavailable       = 14
	grpcUnauthenticated   = 16
)

// isGRPC reports whether r is a gRPC call: HTTP/2 with a gRPC content
// type.
func isGRPC(r *http.Request) bool {
	if r.ProtoMajor != 2 {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// grpcErrorWriter is the response writer of gRPC calls. It keeps a
// target's trailers-only responses whole (see FlushError), and turns an
// HTTP error response that is not itself gRPC
// (the proxy's own 502, 503, 504, 413..., or a target's HTML 404) into a
// gRPC trailers-only response, as ALB does for gRPC: a gRPC client reads
// grpc-status, and cannot read an HTML page. The proxy's own error text
// becomes the grpc-message.
type grpcErrorWriter struct {
	http.ResponseWriter
	pending int  // the status of a proxy error whose text is still to come
	swallow bool // the error was converted; its body is dropped
}

// grpcErrors returns w wrapped for a gRPC request, nil for others. The
// caller calls done when the handler is over.
func grpcErrors(w http.ResponseWriter, r *http.Request) *grpcErrorWriter {
	if !isGRPC(r) {
		return nil
	}
	return &grpcErrorWriter{ResponseWriter: w}
}

func (w *grpcErrorWriter) WriteHeader(code int) {
	h := w.Header()
	if w.swallow || w.pending != 0 {
		return
	}
	if code < 400 || strings.HasPrefix(h.Get("Content-Type"), "application/grpc") {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if h.Get("X-Content-Type-Options") == "nosniff" && h.Get("Content-Type") == "text/plain; charset=utf-8" {
		w.pending = code // see writeError: the text follows
		return
	}
	w.convert(code, http.StatusText(code))
}

// Write takes the text of a proxy error as its grpc-message. A converted
// response sends no body: it is trailers-only.
func (w *grpcErrorWriter) Write(b []byte) (int, error) {
	if w.pending != 0 {
		w.convert(w.pending, string(b))
	}
	if !w.swallow {
		return w.ResponseWriter.Write(b)
	}
	return len(b), nil
}

// done sends a proxy error that had no text.
func (w *grpcErrorWriter) done() {
	if w.pending != 0 {
		w.convert(w.pending, http.StatusText(w.pending))
	}
}

func (w *grpcErrorWriter) convert(code int, msg string) {
	h := w.Header()
	conn := h["Connection"] // on HTTP/2: GOAWAY after this stream
	clear(h)
	if conn != nil {
		h["Connection"] = conn
	}
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(grpcCodeOf(code)))
	h.Set("Grpc-Message", grpcMessage(msg))
	w.pending, w.swallow = 0, true
	w.ResponseWriter.WriteHeader(http.StatusOK)
}

// FlushError sends what was written so far, except the header of a
// trailers-only response (grpc-status in the header): ReverseProxy
// flushes headers at once, and a flush would split the response into a
// header and an empty body without trailers, which gRPC clients take for
// a broken stream. Unflushed, it goes out as one HEADERS frame that ends
// the stream.
func (w *grpcErrorWriter) FlushError() error {
	if w.Header().Get("Grpc-Status") != "" {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *grpcErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// grpcCodeOf maps an HTTP status to a gRPC status code, as gRPC clients
// do for HTTP errors (with 408 and 504 as deadlines, 413 as exhaustion).
func grpcCodeOf(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return grpcDeadlineExceeded
	case http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge:
		return grpcResourceExhausted
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable:
		return grpcUnavailable
	}
	return grpcUnknown
}

// grpcMessage percent-encodes msg for grpc-message, as the gRPC spec
// asks: printable ASCII except '%' stays.
func grpcMessage(msg string) string {
	msg = strings.TrimSpace(msg)
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(url.QueryEscape(string(c)))
	}
	return b.String()
}
