package metrics

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promSample is one parsed sample line.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseProm parses the text exposition format strictly enough to catch
// what Prometheus would reject: every sample belongs to a family whose
// HELP and TYPE came before it, label values are properly quoted and
// escaped, and values are numbers.
func parseProm(t *testing.T, text string) (types map[string]string, samples []promSample) {
	t.Helper()
	types = make(map[string]string)
	helps := make(map[string]bool)
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("output does not end with a newline")
	}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n++
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ := strings.Cut(rest, " ")
			helps[name] = true
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if !helps[name] {
				t.Fatalf("line %d: TYPE of %s before its HELP", n, name)
			}
			if _, dup := types[name]; dup {
				t.Fatalf("line %d: second TYPE for %s", n, name)
			}
			types[name] = typ
			continue
		}
		s := parseSample(t, n, line)
		fam := s.name
		if _, ok := types[fam]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(s.name, suffix); ok && types[base] == "histogram" {
					fam = base
				}
			}
		}
		if _, ok := types[fam]; !ok {
			t.Fatalf("line %d: sample %s has no HELP and TYPE before it", n, s.name)
		}
		samples = append(samples, s)
	}
	return types, samples
}

func parseSample(t *testing.T, n int, line string) promSample {
	t.Helper()
	s := promSample{labels: make(map[string]string)}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		t.Fatalf("line %d: no metric name: %q", n, line)
	}
	s.name, line = line[:i], line[i:]
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for !strings.HasPrefix(line, "}") {
			name, rest, ok := strings.Cut(line, `="`)
			if !ok {
				t.Fatalf("line %d: bad label in %q", n, line)
			}
			var value strings.Builder
			for {
				if rest == "" {
					t.Fatalf("line %d: unterminated label value", n)
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\n' {
					t.Fatalf("line %d: raw newline in label value", n)
				}
				if c == '\\' {
					switch rest[0] {
					case '\\':
						value.WriteByte('\\')
					case '"':
						value.WriteByte('"')
					case 'n':
						value.WriteByte('\n')
					default:
						t.Fatalf("line %d: bad escape \\%c", n, rest[0])
					}
					rest = rest[1:]
					continue
				}
				value.WriteByte(c)
			}
			if _, dup := s.labels[name]; dup {
				t.Fatalf("line %d: label %s twice", n, name)
			}
			s.labels[name] = value.String()
			line = strings.TrimPrefix(rest, ",")
		}
		line = line[1:]
	}
	v, ok := strings.CutPrefix(line, " ")
	if !ok {
		t.Fatalf("line %d: no space before the value", n)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("line %d: value: %v", n, err)
	}
	s.value = f
	return s
}

// value returns the value of the sample with exactly these labels.
func value(t *testing.T, samples []promSample, name string, labels ...string) float64 {
	t.Helper()
	var found []float64
	for _, s := range samples {
		if s.name != name || len(s.labels) != len(labels)/2 {
			continue
		}
		match := true
		for i := 0; i < len(labels); i += 2 {
			if v, ok := s.labels[labels[i]]; !ok || v != labels[i+1] {
				match = false
			}
		}
		if match {
			found = append(found, s.value)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d samples of %s%v, want 1", len(found), name, labels)
	}
	return found[0]
}

func writeProm(t *testing.T, r *Registry) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WritePrometheus(&buf); err != nil {
		t.Fatalf("WritePrometheus: %v", err)
	}
	return buf.String()
}

func TestWritePrometheus(t *testing.T) {
	r := NewRegistryWithClock(newFakeClock().Now)
	obs := []Observation{
		{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: 3 * time.Millisecond, BytesIn: 10, BytesOut: 1000},
		{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: 40 * time.Millisecond, BytesIn: 0, BytesOut: 500},
		{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 302, Duration: 800 * time.Microsecond},
		{Listener: "production", TargetGroup: "web", Target: "b:80", Status: 404, Duration: 2 * time.Second, BytesOut: 20},
		{Listener: "production", TargetGroup: "web", Target: "b:80", Status: 502, Duration: 30 * time.Second},
		{Listener: "production", TargetGroup: "web", Target: "b:80", Status: 502, ProxyError: true, Duration: time.Millisecond},
		{Listener: "production", TargetGroup: "web", Status: 503, ProxyError: true, Duration: 100 * time.Microsecond},
		{Listener: "test", TargetGroup: "web", Target: "a:80", Status: 504, ProxyError: true, Duration: 10 * time.Second, BytesIn: 7},
	}
	for _, o := range obs {
		r.Observe(o)
	}
	done := r.Start("production", "web", "b:80")
	r.Start("production", "web", "b:80")() // started and finished
	_ = r.Start("test", "web", "c:80")     // still in flight

	out := writeProm(t, r)
	types, samples := parseProm(t, out)

	wantTypes := map[string]string{
		"cutover_requests_total":           "counter",
		"cutover_requests_in_flight":       "gauge",
		"cutover_request_duration_seconds": "histogram",
		"cutover_request_bytes_total":      "counter",
		"cutover_response_bytes_total":     "counter",
		"cutover_proxy_errors_total":       "counter",
	}
	for name, typ := range wantTypes {
		if types[name] != typ {
			t.Errorf("TYPE of %s = %q, want %q", name, types[name], typ)
		}
	}

	counts := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cutover_requests_total", []string{"listener", "production", "target_group", "web", "target", "a:80", "code_class", "2xx"}, 2},
		{"cutover_requests_total", []string{"listener", "production", "target_group", "web", "target", "a:80", "code_class", "3xx"}, 1},
		{"cutover_requests_total", []string{"listener", "production", "target_group", "web", "target", "a:80", "code_class", "5xx"}, 0},
		{"cutover_requests_total", []string{"listener", "production", "target_group", "web", "target", "b:80", "code_class", "4xx"}, 1},
		{"cutover_requests_total", []string{"listener", "production", "target_group", "web", "target", "b:80", "code_class", "5xx"}, 2},
		{"cutover_requests_total", []string{"listener", "production", "target_group", "web", "target", "", "code_class", "5xx"}, 1},
		{"cutover_requests_total", []string{"listener", "test", "target_group", "web", "target", "a:80", "code_class", "5xx"}, 1},
		{"cutover_requests_total", []string{"listener", "test", "target_group", "web", "target", "c:80", "code_class", "2xx"}, 0},
		{"cutover_requests_in_flight", []string{"listener", "production", "target_group", "web", "target", "b:80"}, 1},
		{"cutover_requests_in_flight", []string{"listener", "production", "target_group", "web", "target", "a:80"}, 0},
		{"cutover_requests_in_flight", []string{"listener", "test", "target_group", "web", "target", "c:80"}, 1},
		{"cutover_request_bytes_total", []string{"listener", "production", "target_group", "web"}, 10},
		{"cutover_request_bytes_total", []string{"listener", "test", "target_group", "web"}, 7},
		{"cutover_response_bytes_total", []string{"listener", "production", "target_group", "web"}, 1520},
		{"cutover_proxy_errors_total", []string{"listener", "production", "target_group", "web", "code", "502"}, 1},
		{"cutover_proxy_errors_total", []string{"listener", "production", "target_group", "web", "code", "503"}, 1},
		{"cutover_proxy_errors_total", []string{"listener", "production", "target_group", "web", "code", "504"}, 0},
		{"cutover_proxy_errors_total", []string{"listener", "test", "target_group", "web", "code", "504"}, 1},
		{"cutover_request_duration_seconds_count", []string{"listener", "production", "target_group", "web"}, 7},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "production", "target_group", "web", "le", "0.001"}, 3},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "production", "target_group", "web", "le", "0.005"}, 4},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "production", "target_group", "web", "le", "0.05"}, 5},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "production", "target_group", "web", "le", "2.5"}, 6},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "production", "target_group", "web", "le", "10"}, 6},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "production", "target_group", "web", "le", "+Inf"}, 7},
		{"cutover_request_duration_seconds_bucket", []string{"listener", "test", "target_group", "web", "le", "10"}, 1},
		{"cutover_request_duration_seconds_sum", []string{"listener", "test", "target_group", "web"}, 10},
	}
	for _, c := range counts {
		if got := value(t, samples, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	wantSum := (3*time.Millisecond + 40*time.Millisecond + 800*time.Microsecond + 2*time.Second + 30*time.Second + time.Millisecond + 100*time.Microsecond).Seconds()
	if got := value(t, samples, "cutover_request_duration_seconds_sum", "listener", "production", "target_group", "web"); got != wantSum {
		t.Errorf("duration sum = %v, want %v", got, wantSum)
	}
	if strings.Contains(out, `code_class="1xx"`) {
		t.Errorf("1xx series written without any 1xx response")
	}
	checkHistograms(t, samples)

	done()
	first, second := writeProm(t, r), writeProm(t, r)
	if first != second {
		t.Errorf("two writes without traffic differ:\n%s\n---\n%s", first, second)
	}
	if i, j := strings.Index(first, `listener="production"`), strings.Index(first, `listener="test"`); i > j {
		t.Errorf("series not sorted: production after test")
	}
}

// checkHistograms checks every histogram series: buckets ascend in le and
// are cumulative, the last is +Inf, and _count equals it.
func checkHistograms(t *testing.T, samples []promSample) {
	t.Helper()
	type series struct {
		les    []float64
		counts []float64
	}
	hists := make(map[string]*series)
	key := func(s promSample) string {
		return s.labels["listener"] + "\x00" + s.labels["target_group"]
	}
	for _, s := range samples {
		if s.name != "cutover_request_duration_seconds_bucket" {
			continue
		}
		h := hists[key(s)]
		if h == nil {
			h = new(series)
			hists[key(s)] = h
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			t.Fatalf("le %q: %v", s.labels["le"], err)
		}
		if n := len(h.les); n > 0 && (le <= h.les[n-1] || s.value < h.counts[n-1]) {
			t.Errorf("histogram %q: bucket le=%v count %v after le=%v count %v", key(s), le, s.value, h.les[n-1], h.counts[n-1])
		}
		h.les = append(h.les, le)
		h.counts = append(h.counts, s.value)
	}
	if len(hists) == 0 {
		t.Fatalf("no histogram series")
	}
	for _, s := range samples {
		if s.name != "cutover_request_duration_seconds_count" {
			continue
		}
		h := hists[key(s)]
		n := len(h.les)
		if !math.IsInf(h.les[n-1], 1) || s.value != h.counts[n-1] {
			t.Errorf("histogram %q: _count %v, last bucket le=%v count %v", key(s), s.value, h.les[n-1], h.counts[n-1])
		}
	}
}

func TestWritePrometheusLabelEscaping(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		escaped string
	}{
		{"plain", "production", `production`},
		{"quote", `say "hi"`, `say \"hi\"`},
		{"backslash", `C:\web`, `C:\\web`},
		{"newline", "a\nb", `a\nb`},
		{"all", "\\\"\n", `\\\"\n`},
		{"utf-8", "grün", "grün"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistryWithClock(newFakeClock().Now)
			r.Observe(Observation{Listener: tt.value, TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Millisecond})
			out := writeProm(t, r)
			want := `cutover_request_bytes_total{listener="` + tt.escaped + `",target_group="web"} 0` + "\n"
			if !strings.Contains(out, want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
			_, samples := parseProm(t, out)
			if got := value(t, samples, "cutover_request_bytes_total", "listener", tt.value, "target_group", "web"); got != 0 {
				t.Errorf("bytes = %v, want 0", got)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200, Duration: time.Millisecond})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	_, samples := parseProm(t, string(body))
	if got := value(t, samples, "cutover_requests_total", "listener", "production", "target_group", "web", "target", "a:80", "code_class", "2xx"); got != 1 {
		t.Errorf("requests = %v, want 1", got)
	}

	resp, err = http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp.StatusCode)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestWritePrometheusError(t *testing.T) {
	r := NewRegistry()
	r.Observe(Observation{Listener: "production", TargetGroup: "web", Target: "a:80", Status: 200})
	if err := r.WritePrometheus(failingWriter{}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("WritePrometheus to a failing writer = %v, want the write error", err)
	}
}
