package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkProxy measures one small GET through the proxy to a loopback
// backend over keep-alive connections, serially and in parallel, on the
// fast path and with httputil.ReverseProxy only.
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the backend, 45 bytes of payload.\n")
	}))
	defer backend.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	get := func(b *testing.B, url string) {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}

	// direct is the baseline: the same client straight to the backend.
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			get(b, backend.URL+"/")
		}
	})
	for _, path := range []struct {
		name string
		opts Options
	}{
		{"fast", Options{}},
		{"reverseproxy", Options{DisableFastPath: true}},
	} {
		path.opts.Logger = slog.New(slog.DiscardHandler)
		p := New(path.opts)
		if err := p.Apply(b.Context(), oneListener(forward("app", 1), group("app", backend.Listener.Addr().String()))); err != nil {
			b.Fatal(err)
		}
		defer p.Close(b.Context())
		url := baseURL(p, "web") + "/"
		b.Run(path.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get(b, url)
			}
		})
		b.Run(path.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, url)
				}
			})
		})
	}
}

// BenchmarkApply measures a weight change, what the controller does many
// times during a canary: two groups of ten targets, health checks off.
func BenchmarkApply(b *testing.B) {
	targets := func(base int) []string {
		var ts []string
		for i := range 10 {
			ts = append(ts, "127.0.0.1:"+strconv.Itoa(base+i))
		}
		return ts
	}
	cfg := func(w int) Config {
		return oneListener(forward("blue", 100-w, "green", w),
			group("blue", targets(20000)...), group("green", targets(21000)...))
	}
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	defer p.Close(b.Context())
	if err := p.Apply(b.Context(), cfg(0)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := p.Apply(b.Context(), cfg(i%100)); err != nil {
			b.Fatal(err)
		}
	}
}
