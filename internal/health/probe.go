package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

const (
	userAgent = "cutover-health/1"
	// maxDrain is how much of a response body a check reads before it
	// closes the connection.
	maxDrain = 4 << 10
)

// httpProbe sends the HTTP GET of one check.
type httpProbe struct {
	client *http.Client
	scheme string // "http://" or "https://"
	path   string
	host   string
	port   int
}

func newHTTPProbe(cfg Config) *httpProbe {
	scheme := "http://"
	if cfg.Protocol == ProtocolHTTP2 {
		scheme = "https://"
	}
	return &httpProbe{
		// Proxy is nil: checks go straight to the target.
		client: &http.Client{
			Transport: transportFor(cfg.Protocol),
			// A redirect is an answer, matched by its code like any other.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		scheme: scheme,
		path:   cfg.Path,
		host:   cfg.Host,
		port:   cfg.Port,
	}
}

// probe checks target (host:port) once and returns the response's status
// code. It returns when ctx is done.
func (p *httpProbe) probe(ctx context.Context, target string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.scheme+portOverride(target, p.port)+p.path, nil)
	if err != nil {
		return 0, err
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return resp.StatusCode, nil
}

// portOverride is where a check connects: the target's host with the
// configured port, or the target itself.
func portOverride(target string, port int) string {
	if port == 0 {
		return target
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = strings.Trim(target, "[]") // target has no port
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
