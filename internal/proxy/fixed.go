package proxy

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FixedResponseConfig answers requests in the proxy instead of forwarding
// them, as an ALB fixed-response action does. The controller uses it for
// maintenance mode (kamal-proxy's stop): the app's production rule answers
// 503 with a page while its target groups stay registered and
// health-checked, so that turning it off is one more Apply.
type FixedResponseConfig struct {
	StatusCode int // 200-599
	// ContentType is the response's media type; default
	// "text/plain; charset=utf-8".
	ContentType string
	// Body is sent as it is; at most MaxFixedResponseBody bytes of UTF-8.
	Body string
	// RetryAfter, in seconds, is sent as a Retry-After header when above
	// zero; 0-MaxRetryAfter.
	RetryAfter int
}

// Ranges of FixedResponseConfig.
const (
	MaxFixedResponseBody = 1 << 20 // bytes
	MaxRetryAfter        = 86400   // seconds: a day
	defaultFixedType     = "text/plain; charset=utf-8"
)

// fixedResponse is a FixedResponseConfig ready for the request path.
type fixedResponse struct {
	status      int
	contentType string
	length      string
	retryAfter  string // "" for none
	body        []byte
}

func newFixedResponse(fc *FixedResponseConfig) *fixedResponse {
	f := &fixedResponse{
		status:      fc.StatusCode,
		contentType: fc.ContentType,
		length:      strconv.Itoa(len(fc.Body)),
		body:        []byte(fc.Body),
	}
	if f.contentType == "" {
		f.contentType = defaultFixedType
	}
	if fc.RetryAfter > 0 {
		f.retryAfter = strconv.Itoa(fc.RetryAfter)
	}
	return f
}

// serve writes the response and returns the body bytes written. The
// request's body is left to net/http, which reads a small rest to keep
// the connection alive and closes it after a large one. Keep-alive
// connections stay open: clients carry on when the action changes.
func (f *fixedResponse) serve(w http.ResponseWriter) int64 {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", f.length)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if f.retryAfter != "" {
		h.Set("Retry-After", f.retryAfter)
	}
	w.WriteHeader(f.status)
	n, _ := w.Write(f.body) // a client that went away gets nothing more
	return int64(n)
}

// checkFixed validates a fixed response of where.
func checkFixed(add func(string, ...any), where string, fc *FixedResponseConfig) {
	if fc.StatusCode < 200 || fc.StatusCode > 599 {
		add("%s: fixed_response: status_code %d is out of range; valid: 200-599", where, fc.StatusCode)
	}
	if err := checkContentType(fc.ContentType); err != nil {
		add("%s: fixed_response: content_type %q: %v", where, fc.ContentType, err)
	}
	if len(fc.Body) > MaxFixedResponseBody {
		add("%s: fixed_response: body is %d bytes; valid: at most %d (1 MiB)", where, len(fc.Body), MaxFixedResponseBody)
	} else if !utf8.ValidString(fc.Body) {
		add("%s: fixed_response: body is not UTF-8 text", where)
	}
	if fc.RetryAfter < 0 || fc.RetryAfter > MaxRetryAfter {
		add("%s: fixed_response: retry_after %d is out of range; valid: 0-%d seconds (0 for no Retry-After header)", where, fc.RetryAfter, MaxRetryAfter)
	}
}

func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	if strings.ContainsAny(ct, "\r\n") {
		return fmt.Errorf("has a line break; valid: a media type such as %q", "text/html; charset=utf-8")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(mt, "/") {
		return fmt.Errorf("valid: a media type such as %q", "text/html; charset=utf-8")
	}
	return nil
}
