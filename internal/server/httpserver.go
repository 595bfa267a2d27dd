package server

import (
	"cmp"
	"io"
	"net/http"
	"time"
)

// HTTPLimits bound the control plane's HTTP servers: the API on its unix
// socket and on TCP, and /metrics. Zero fields take the defaults.
//
// The API servers have no ReadTimeout and no WriteTimeout: a ReadTimeout
// bounds a whole request body, and image pushes and git pushes may take
// long; a WriteTimeout would cut event streams, followed logs and big
// downloads (image blobs, git fetches). BodyTimeout bounds the silence
// between two reads of a body instead; the TCP listener's connection cap
// is api.TCPOptions.MaxConns.
type HTTPLimits struct {
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // a keep-alive connection with no request is closed; default 120s
	BodyTimeout       time.Duration // longest wait for request body data; default 60s
	MetricsTimeout    time.Duration // whole /metrics request, and its response; default 30s
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, 10*time.Second)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, 120*time.Second)
	l.BodyTimeout = cmp.Or(l.BodyTimeout, 60*time.Second)
	l.MetricsTimeout = cmp.Or(l.MetricsTimeout, 30*time.Second)
	return l
}

// apiServer is an http.Server for the API within l.
func (l HTTPLimits) apiServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           withBodyTimeout(h, l.BodyTimeout),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// metricsServer is an http.Server for /metrics within l: its responses
// are short, so the whole exchange is bounded.
func (l HTTPLimits) metricsServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.MetricsTimeout,
		WriteTimeout:      l.MetricsTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// withBodyTimeout makes each read of a request body fail when no data
// came for d; net/http then closes the connection.
func withBodyTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: d}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody moves the connection's read deadline before each read.
// Once the body has ended it leaves the deadline alone: net/http then
// reads the connection itself, and a deadline there would cut a response
// still streaming.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	d     time.Duration
	ended bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.ended {
		return b.ReadCloser.Read(p)
	}
	b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	b.ended = err != nil
	return n, err
}
