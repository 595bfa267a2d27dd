package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// stickyGet does a GET with the given cookies and returns the body (the
// backend's name), the status, and the sticky cookie set, if any.
func stickyGet(t *testing.T, url string, cookies ...*http.Cookie) (string, int, *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	for _, c := range resp.Cookies() {
		if c.Name == StickyCookie {
			return body, resp.StatusCode, c
		}
	}
	return body, resp.StatusCode, nil
}

// threeBackends returns backends a, b, c whose /login sets the app
// cookie SESSION.
func threeBackends(t *testing.T) []*backend {
	var bs []*backend
	for _, name := range []string{"a", "b", "c"} {
		bs = append(bs, newBackend(t, name, func(mux *http.ServeMux) {
			mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: "s-" + name, Path: "/"})
				w.Write([]byte(name))
			})
		}))
	}
	return bs
}

func addrs(bs []*backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.addr)
	}
	return out
}

// spread sends n requests with the cookies and returns the backends seen.
func spread(t *testing.T, url string, n int, cookies ...*http.Cookie) map[string]int {
	seen := map[string]int{}
	for range n {
		body, _, _ := stickyGet(t, url, cookies...)
		seen[body]++
	}
	return seen
}

func TestStickyLBCookie(t *testing.T) {
	for _, fw := range forwarders {
		t.Run(fw.name, func(t *testing.T) {
			tg := group("g", addrs(threeBackends(t))...)
			tg.Stickiness = StickinessConfig{Type: StickyLBCookie, Duration: time.Hour}
			p := startProxyWith(t, fw.opts, oneListener(forward("g", 1), tg))
			url := baseURL(p, "web") + "/"

			first, _, c := stickyGet(t, url)
			if c == nil || c.MaxAge != 3600 || !c.HttpOnly || c.Path != "/" {
				t.Fatalf("sticky cookie %+v, want %s with Max-Age 3600, HttpOnly, Path /", c, StickyCookie)
			}
			if strings.Contains(c.Value, ":") || strings.Contains(c.Value, "127.0.0.1") {
				t.Fatalf("cookie value %q gives the target's address away", c.Value)
			}
			if seen := spread(t, url, 30, c); len(seen) != 1 || seen[first] != 30 {
				t.Fatalf("with the cookie: %v, want all 30 on %s", seen, first)
			}
			if seen := spread(t, url, 30); len(seen) < 2 {
				t.Fatalf("without a cookie: %v, want requests spread over the targets", seen)
			}
		})
	}
}

func TestStickyForgedCookieIgnored(t *testing.T) {
	bs := threeBackends(t)
	outsider := newBackend(t, "outsider", nil)
	tg := group("g", addrs(bs)...)
	tg.Stickiness = StickinessConfig{Type: StickyLBCookie, Duration: time.Hour}
	p := startProxy(t, oneListener(forward("g", 1), tg))
	url := baseURL(p, "web") + "/"

	for _, forged := range []string{outsider.addr, bs[0].addr, "AAAAAAAAAAAAAAAAAAAAAA", "../../etc", ""} {
		seen := spread(t, url, 30, &http.Cookie{Name: StickyCookie, Value: forged})
		if len(seen) < 2 || seen["outsider"] > 0 {
			t.Fatalf("forged cookie %q: %v, want requests spread over the group's targets only", forged, seen)
		}
		_, status, c := stickyGet(t, url, &http.Cookie{Name: StickyCookie, Value: forged})
		if status != http.StatusOK || c == nil || c.Value == forged {
			t.Fatalf("forged cookie %q: status %d, cookie %+v; want 200 and a new cookie", forged, status, c)
		}
	}
	if outsider.hits.Load() != 0 {
		t.Fatalf("a forged cookie reached an address outside the group")
	}
}

func TestStickyAppCookie(t *testing.T) {
	tg := group("g", addrs(threeBackends(t))...)
	tg.Stickiness = StickinessConfig{Type: StickyAppCookie, CookieName: "SESSION", Duration: time.Hour}
	p := startProxy(t, oneListener(forward("g", 1), tg))
	url := baseURL(p, "web")

	if _, _, c := stickyGet(t, url+"/"); c != nil {
		t.Fatalf("a response that sets no SESSION got a sticky cookie %+v", c)
	}
	who, _, sticky := stickyGet(t, url+"/login")
	if sticky == nil {
		t.Fatal("the response that sets SESSION got no sticky cookie")
	}
	session := &http.Cookie{Name: "SESSION", Value: "s-" + who}
	if seen := spread(t, url+"/", 30, sticky, session); len(seen) != 1 || seen[who] != 30 {
		t.Fatalf("with the app's cookie: %v, want all 30 on %s", seen, who)
	}
	if seen := spread(t, url+"/", 30, sticky); len(seen) < 2 {
		t.Fatalf("without the app's cookie: %v, want requests spread (the app's session is over)", seen)
	}
}

// A sticky client keeps reaching its draining target until the last tenth
// of its deregistration delay, then moves.
func TestStickyClientLeavesDrainedTargetAtEndOfDelay(t *testing.T) {
	bs := threeBackends(t)
	tg := group("g", addrs(bs)...)
	tg.Stickiness = StickinessConfig{Type: StickyLBCookie, Duration: time.Hour}
	tg.DeregistrationDelay = 1500 * time.Millisecond
	cfg := oneListener(forward("g", 1), tg)
	p := startProxy(t, cfg)
	url := baseURL(p, "web") + "/"

	who, _, c := stickyGet(t, url)
	var stuck *backend
	var rest []string
	for _, b := range bs {
		if b.name == who {
			stuck = b
		} else {
			rest = append(rest, b.addr)
		}
	}
	cfg.TargetGroups[0].Targets = rest
	removed := time.Now()
	mustApply(t, p, cfg)

	// Within the delay the sticky client stays; others never get it.
	if seen := spread(t, url, 10, c); seen[who] != 10 {
		t.Fatalf("during the drain: %v, want all on the draining %s", seen, who)
	}
	if seen := spread(t, url, 20); seen[who] != 0 {
		t.Fatalf("new clients during the drain: %v, want none on %s", seen, who)
	}
	if elapsed := time.Since(removed); elapsed > 1200*time.Millisecond {
		t.Skipf("machine too slow: the checks took %s of the 1.5s delay", elapsed)
	}
	select {
	case <-p.Drained("g", stuck.addr):
		t.Fatal("drained before its delay although sticky clients may still come")
	default:
	}
	<-p.Drained("g", stuck.addr)
	// Sticky clients may come until a tenth of the delay is left.
	if time.Since(removed) < 1350*time.Millisecond {
		t.Fatalf("drained after %s, before the end of its sticky window (1.35s of the 1.5s delay)", time.Since(removed))
	}
	body, status, moved := stickyGet(t, url, c)
	if status != http.StatusOK || body == who || moved == nil || moved.Value == c.Value {
		t.Fatalf("after the delay: %d from %q with cookie %+v; want 200 from another target and a new cookie", status, body, moved)
	}
}

func TestStickyNotToUnhealthyTarget(t *testing.T) {
	bs := threeBackends(t)
	tg := group("g", addrs(bs)...)
	tg.HealthCheck = fastChecks()
	tg.Stickiness = StickinessConfig{Type: StickyLBCookie, Duration: time.Hour}
	p := startProxy(t, oneListener(forward("g", 1), tg))
	url := baseURL(p, "web") + "/"
	eventually(t, "all healthy", func() bool {
		for _, b := range bs {
			if s, _ := targetState(p, "g", b.addr); s.State != StateHealthy {
				return false
			}
		}
		return true
	})
	who, _, c := stickyGet(t, url)
	for _, b := range bs {
		if b.name == who {
			b.sick.Store(true)
			eventually(t, who+" unhealthy", func() bool {
				s, _ := targetState(p, "g", b.addr)
				return s.State == StateUnhealthy
			})
		}
	}
	if seen := spread(t, url, 20, c); seen[who] != 0 {
		t.Fatalf("stuck to an unhealthy target: %v", seen)
	}
}

func TestStickyAcrossWeightedGroups(t *testing.T) {
	bs := threeBackends(t)
	blue, green := group("blue", bs[0].addr), group("green", bs[1].addr, bs[2].addr)
	for _, g := range []*TargetGroupConfig{&blue, &green} {
		g.Stickiness = StickinessConfig{Type: StickyLBCookie, Duration: time.Hour}
	}
	cfg := oneListener(forward("blue", 50, "green", 50), blue, green)
	p := startProxy(t, cfg)
	url := baseURL(p, "web") + "/"
	for range 20 {
		who, _, c := stickyGet(t, url)
		if seen := spread(t, url, 10, c); seen[who] != 10 {
			t.Fatalf("stuck to %s across the weighted forward: %v", who, seen)
		}
	}
	// A group whose weight drops to 0 gets no sticky client either.
	who, _, c := stickyGet(t, url)
	cfg.Listeners[0].Default = forward("blue", 1, "green", 0)
	if who == "a" { // in blue
		cfg.Listeners[0].Default = forward("blue", 0, "green", 1)
	}
	mustApply(t, p, cfg)
	if seen := spread(t, url, 10, c); seen[who] != 0 {
		t.Fatalf("stuck to %s in a group of weight 0: %v", who, seen)
	}
}
