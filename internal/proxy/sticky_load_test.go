package proxy

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Under load from 12 sticky clients, removing a target fails no request:
// its sticky clients keep reaching it during its deregistration delay,
// and none after its drain ended; each client then sticks to its new one.
func TestStickyDrainUnderLoad(t *testing.T) {
	bs := threeBackends(t)
	tg := group("g", addrs(bs)...)
	tg.Stickiness = StickinessConfig{Type: StickyLBCookie, Duration: time.Hour}
	tg.DeregistrationDelay = 2 * time.Second // sticky clients until 1.8s
	cfg := oneListener(forward("g", 1), tg)
	p := startProxy(t, cfg)
	url := baseURL(p, "web") + "/"

	var failed, ok atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	lastOf := map[int]string{} // client -> backend of its last response
	switches := map[int]int{}  // client -> times its backend changed
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			c := newClient()
			var cookie *http.Cookie
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", url, nil)
				if cookie != nil {
					req.AddCookie(cookie)
				}
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status+": "+string(body))
					continue
				}
				ok.Add(1)
				for _, ck := range resp.Cookies() {
					if ck.Name == StickyCookie {
						cookie = ck
					}
				}
				mu.Lock()
				if prev := lastOf[i]; prev != "" && prev != string(body) {
					switches[i]++
				}
				lastOf[i] = string(body)
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	removed := bs[0]
	cfg.TargetGroups[0].Targets = addrs(bs[1:])
	mustApply(t, p, cfg)
	hitsAtRemoval := removed.hits.Load()
	<-p.Drained("g", removed.addr)
	hitsAtDrain := removed.hits.Load()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	t.Logf("%d requests, %d failed; removed target: %d requests during its 2s delay, %d after it", ok.Load(), failed.Load(),
		hitsAtDrain-hitsAtRemoval, removed.hits.Load()-hitsAtDrain)
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed; first: %v", failed.Load(), firstErr.Load())
	}
	if hitsAtDrain == hitsAtRemoval {
		t.Fatal("the draining target got no request from its sticky clients during its delay")
	}
	if n := removed.hits.Load() - hitsAtDrain; n > 0 {
		t.Fatalf("the removed target got %d requests after its drain ended", n)
	}
	for i, n := range switches {
		if n > 1 {
			t.Errorf("client %d changed targets %d times, want at most once (off the removed one)", i, n)
		}
	}
}
