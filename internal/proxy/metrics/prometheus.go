package metrics

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// numDurationBuckets is the number of finite buckets of
// cutover_request_duration_seconds.
const numDurationBuckets = 13

// durationBounds returns the upper bounds of the finite buckets of
// cutover_request_duration_seconds.
func durationBounds() [numDurationBuckets]time.Duration {
	return [...]time.Duration{
		1 * time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		1 * time.Second, 2500 * time.Millisecond, 5 * time.Second,
		10 * time.Second,
	}
}

// durationBucket returns the index of the first bucket whose bound is at
// least d, or numDurationBuckets (+Inf).
func durationBucket(d time.Duration) int {
	bounds := durationBounds()
	for i, b := range bounds {
		if d <= b {
			return i
		}
	}
	return numDurationBuckets
}

// Handler serves WritePrometheus for GET and HEAD.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		// An error here means the scraper went away; there is no one
		// left to tell.
		_ = r.WritePrometheus(w)
	})
}

// WritePrometheus writes every series in the Prometheus text exposition
// format (version 0.0.4), families in a fixed order and series sorted by
// their labels. Concurrent Observe calls may land in one family and not yet
// in another; each histogram is self-consistent (its _count is the +Inf
// bucket).
func (r *Registry) WritePrometheus(w io.Writer) error {
	bw := bufio.NewWriter(w)
	writeTargetSeries(bw, sortedTargets(r.targets.snapshot()))
	writeRouteSeries(bw, sortedRoutes(r.routes.snapshot()))
	r.writeFixed(bw)
	r.writeRefusals(bw)
	r.writeConnections(bw)

	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}

// writeTargetSeries writes the families counted per target.
func writeTargetSeries(bw *bufio.Writer, targets []namedTarget) {
	family(bw, "cutover_requests_total", "counter", "Requests finished, by status code class.")
	for _, t := range targets {
		for i := range t.s.classes {
			n := t.s.classes[i].Load()
			if i == 0 && n == 0 {
				continue // 1xx only once seen; 2xx-5xx always
			}
			sample(bw, "cutover_requests_total", t.labels(), "code_class", strconv.Itoa(i+1)+"xx", strconv.FormatInt(n, 10))
		}
	}

	family(bw, "cutover_requests_in_flight", "gauge", "Requests started and not yet finished.")
	for _, t := range targets {
		sample(bw, "cutover_requests_in_flight", t.labels(), "", "", strconv.FormatInt(t.s.inFlight.Load(), 10))
	}
}

// writeRouteSeries writes the families counted per route.
func writeRouteSeries(bw *bufio.Writer, routes []namedRoute) {
	bounds := durationBounds()
	family(bw, "cutover_request_duration_seconds", "histogram", "Time from request start to response end.")
	for _, rt := range routes {
		var cumulative int64
		for i := range rt.s.durations {
			cumulative += rt.s.durations[i].Load()
			le := "+Inf"
			if i < numDurationBuckets {
				le = formatFloat(bounds[i].Seconds())
			}
			sample(bw, "cutover_request_duration_seconds_bucket", rt.labels(), "le", le, strconv.FormatInt(cumulative, 10))
		}
		sum := time.Duration(rt.s.durationSum.Load()).Seconds()
		sample(bw, "cutover_request_duration_seconds_sum", rt.labels(), "", "", formatFloat(sum))
		sample(bw, "cutover_request_duration_seconds_count", rt.labels(), "", "", strconv.FormatInt(cumulative, 10))
	}

	family(bw, "cutover_request_bytes_total", "counter", "Request body bytes read from clients.")
	for _, rt := range routes {
		sample(bw, "cutover_request_bytes_total", rt.labels(), "", "", strconv.FormatInt(rt.s.bytesIn.Load(), 10))
	}

	family(bw, "cutover_response_bytes_total", "counter", "Response body bytes written to clients.")
	for _, rt := range routes {
		sample(bw, "cutover_response_bytes_total", rt.labels(), "", "", strconv.FormatInt(rt.s.bytesOut.Load(), 10))
	}

	family(bw, "cutover_proxy_errors_total", "counter", "Error responses made by the proxy itself, not by a target.")
	for _, rt := range routes {
		for i := range rt.s.proxyErrors {
			code := 500 + i
			n := rt.s.proxyErrors[i].Load()
			if n == 0 && code != 502 && code != 503 && code != 504 {
				continue // 502-504 always; other codes only once seen
			}
			sample(bw, "cutover_proxy_errors_total", rt.labels(), "code", strconv.Itoa(code), strconv.FormatInt(n, 10))
		}
	}
}

type namedTarget struct {
	k targetKey
	s *targetSeries
}

func (t namedTarget) labels() []string {
	return []string{"listener", t.k.listener, "target_group", t.k.group, "target", t.k.target}
}

func sortedTargets(m map[targetKey]*targetSeries) []namedTarget {
	out := make([]namedTarget, 0, len(m))
	for k, s := range m {
		out = append(out, namedTarget{k, s})
	}
	slices.SortFunc(out, func(a, b namedTarget) int {
		return cmp.Or(
			strings.Compare(a.k.listener, b.k.listener),
			strings.Compare(a.k.group, b.k.group),
			strings.Compare(a.k.target, b.k.target),
		)
	})
	return out
}

type namedRoute struct {
	k routeKey
	s *routeSeries
}

func (rt namedRoute) labels() []string {
	return []string{"listener", rt.k.listener, "target_group", rt.k.group}
}

func sortedRoutes(m map[routeKey]*routeSeries) []namedRoute {
	out := make([]namedRoute, 0, len(m))
	for k, s := range m {
		out = append(out, namedRoute{k, s})
	}
	slices.SortFunc(out, func(a, b namedRoute) int {
		return cmp.Or(
			strings.Compare(a.k.listener, b.k.listener),
			strings.Compare(a.k.group, b.k.group),
		)
	})
	return out
}

// family writes the HELP and TYPE lines of a metric family. help must not
// contain backslashes or newlines.
func family(w *bufio.Writer, name, typ, help string) {
	w.WriteString("# HELP " + name + " " + help + "\n")
	w.WriteString("# TYPE " + name + " " + typ + "\n")
}

// sample writes one sample line. labels alternates names and values;
// extraName and extraValue, when extraName is not empty, add one more
// label at the end. bufio.Writer keeps the first write error for Flush.
func sample(w *bufio.Writer, name string, labels []string, extraName, extraValue, value string) {
	w.WriteString(name)
	w.WriteByte('{')
	for i := 0; i < len(labels); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		writeLabel(w, labels[i], labels[i+1])
	}
	if extraName != "" {
		w.WriteByte(',')
		writeLabel(w, extraName, extraValue)
	}
	w.WriteString("} ")
	w.WriteString(value)
	w.WriteByte('\n')
}

func writeLabel(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(`="`)
	w.WriteString(escapeLabelValue(value))
	w.WriteByte('"')
}

// escapeLabelValue escapes backslash, double quote and line feed, as the
// text format requires.
func escapeLabelValue(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
