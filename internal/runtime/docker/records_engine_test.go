package docker

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// TestLogsTimestamps: with Timestamps, a container's output comes as
// records with the Engine's times and streams, and Since leaves out
// what was written before it.
func TestLogsTimestamps(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	d := e.newDriver(t, Options{})
	spec := e.spec(t, "a", map[string]string{"LOG_LINES": "2"})
	before := time.Now().Add(-time.Second) // the Engine's clock is this host's
	start(t, d, spec)
	waitForLog(t, d, spec.ID, "listening on :8080")

	records := func(opts runtime.LogOptions) []runtime.LogLine {
		t.Helper()
		opts.Timestamps, opts.Tail = true, -1
		rc, err := d.Logs(t.Context(), spec.ID, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		var out []runtime.LogLine
		for rec := range strings.Lines(string(data)) {
			l, ok := runtime.ParseLogRecord([]byte(strings.TrimSuffix(rec, "\n")))
			if !ok {
				t.Fatalf("not a record: %q", rec)
			}
			out = append(out, l)
		}
		return out
	}
	all := records(runtime.LogOptions{})
	var line2 time.Time
	for _, l := range all {
		text := string(l.Text)
		want := runtime.Stdout
		if strings.HasPrefix(text, "stderr: ") {
			want = runtime.Stderr
		}
		if l.Stream != want {
			t.Errorf("%q is on %s, want %s", text, l.Stream, want)
		}
		if l.Time.Before(before) || l.Time.After(time.Now()) {
			t.Errorf("%q has time %s, outside the container's life", text, l.Time)
		}
		if text == "line 2" {
			line2 = l.Time
		}
	}
	if line2.IsZero() {
		t.Fatalf("no record of line 2 in %+v", all)
	}
	for _, l := range records(runtime.LogOptions{Since: line2}) {
		if l.Time.Before(line2) || string(l.Text) == "starting task "+spec.ID {
			t.Errorf("Since %s gave %q of %s", line2, l.Text, l.Time)
		}
	}
}
