package web

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// sseStream writes server-sent events: HTML fragments named by event,
// which htmx's SSE extension swaps into the element with the same
// sse-swap name.
type sseStream struct {
	w  io.Writer
	rc *http.ResponseController
}

// startSSE answers the request with an event stream.
func startSSE(w http.ResponseWriter) (*sseStream, error) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseStream{w: w, rc: http.NewResponseController(w)}
	return s, s.rc.Flush()
}

// send writes one event; id, when not empty, is what a reconnecting
// browser sends back as Last-Event-ID.
func (s *sseStream) send(event, id, data string) error {
	var b strings.Builder
	if id != "" {
		fmt.Fprintf(&b, "id: %s\n", id)
	}
	fmt.Fprintf(&b, "event: %s\n", event)
	data = strings.ReplaceAll(data, "\r\n", "\n")
	data = strings.ReplaceAll(data, "\r", "\n")
	for line := range strings.SplitSeq(data, "\n") {
		fmt.Fprintf(&b, "data: %s\n", line)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// keepAlive writes a comment, so proxies keep an idle stream open.
func (s *sseStream) keepAlive() error {
	if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}
