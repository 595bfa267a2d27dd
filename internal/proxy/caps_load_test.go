package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/proxy/metrics"
)

// Under load from 12 clients, two targets capped at 4 requests each never
// see more than 4 at once; what does not fit gets 503 from the proxy, each
// counted as a max_connections_per_target refusal.
func TestMaxConnectionsPerTargetUnderLoad(t *testing.T) {
	var peaks [2]atomic.Int64
	var bs []*backend
	for i, name := range []string{"a", "b"} {
		var now atomic.Int64
		bs = append(bs, newBackend(t, name, func(mux *http.ServeMux) {
			mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
				n := now.Add(1)
				defer now.Add(-1)
				for p := peaks[i].Load(); n > p && !peaks[i].CompareAndSwap(p, n); p = peaks[i].Load() {
				}
				time.Sleep(5 * time.Millisecond)
				io.WriteString(w, name)
			})
		}))
	}
	tg := group("g", bs[0].addr, bs[1].addr)
	tg.MaxConnectionsPerTarget = 4
	tg.Algorithm = LeastOutstandingRequests
	p := startProxy(t, oneListener(forward("g", 1), tg))

	stop := make(chan struct{})
	res, wait := hammer(t, baseURL(p, "web")+"/work", 12, stop)
	time.Sleep(2 * time.Second)
	close(stop)
	wait()
	t.Logf("%d requests, %d failed; peak in flight per target: %d, %d", res.ok.Load(), res.failed.Load(), peaks[0].Load(), peaks[1].Load())
	refused := p.Metrics().RefusedCount("web", metrics.LimitTargetConnections)
	if res.failed.Load() != refused || res.ok.Load() == 0 {
		t.Fatalf("%d requests failed, %d refused by the cap, %d served; want every failure a refusal; first: %v",
			res.failed.Load(), refused, res.ok.Load(), res.firstErr.Load())
	}
	for i := range peaks {
		if peaks[i].Load() > 4 {
			t.Fatalf("target %d had %d requests at once, over its cap of 4", i, peaks[i].Load())
		}
	}
}
