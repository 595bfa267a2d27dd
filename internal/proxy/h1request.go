package proxy

import (
	"context"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parseRequest returns the request of a plain head, or false when the
// head is anything this server does not take as it is: net/http then
// reads it and serves or refuses it. It follows net/http's server: the
// Host field becomes r.Host and leaves the header, Connection: close
// sets r.Close, Pragma: no-cache implies Cache-Control: no-cache.
func parseRequest(ctx context.Context, head []byte, remote string) (*http.Request, bool) {
	text := string(head)
	line, rest, _ := strings.Cut(text, "\n")
	line = strings.TrimSuffix(line, "\r")
	method, target, ok := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(target, " ")
	if !ok || !ok2 || proto != "HTTP/1.1" ||
		!strings.HasPrefix(target, "/") || !validTarget(target) {
		return nil, false
	}
	// NewRequestWithContext parses the target with url.Parse, which
	// differs from net/http's url.ParseRequestURI on a '#' and a
	// leading "//" (an authority to url.Parse, a path to net/http).
	if strings.Contains(target, "#") || strings.HasPrefix(target, "//") {
		return nil, false
	}
	r, err := http.NewRequestWithContext(ctx, method, target, nil) // refuses a method that is not a token
	if err != nil {
		return nil, false
	}
	h, host, ok := parseFields(rest)
	if !ok || !httpguts.ValidHostHeader(host) {
		return nil, false
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	r.Header, r.Body, r.Host, r.RemoteAddr, r.RequestURI = h, http.NoBody, host, remote, target
	r.Close = listedIn(h["Connection"], "close")
	return r, true
}

// parseFields parses the header fields of a head after its request line
// (each ends in LF or CRLF; the last line is empty). It refuses what
// net/http would refuse and a missing or repeated Host.
func parseFields(rest string) (h http.Header, host string, ok bool) {
	n := strings.Count(rest, "\n")
	h = make(http.Header, n)
	values := make([]string, 0, n) // one backing array for the 1-value slices
	hosts := 0
	for {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		name, value, found := strings.Cut(line, ":")
		if !found || !httpguts.ValidHeaderFieldName(name) {
			return nil, "", false
		}
		value = strings.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, "", false
		}
		key := http.CanonicalHeaderKey(name)
		if key == "Host" {
			host = value
			hosts++
			continue
		}
		if vs, seen := h[key]; seen {
			h[key] = append(vs, value)
			continue
		}
		values = append(values, value)
		h[key] = values[len(values)-1 : len(values) : len(values)]
	}
	return h, host, hosts == 1 && rest == ""
}

// validTarget reports whether the request target has only visible ASCII
// characters; anything else is left to net/http's judgement.
func validTarget(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}
