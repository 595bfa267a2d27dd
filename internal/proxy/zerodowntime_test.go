package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The "must show" cases for zero-downtime: weight switches and
// target removal under load, and draining of long requests and WebSockets.

func TestWeightSwitchUnderLoadFailsNothing(t *testing.T) {
	blue := newBackend(t, "blue", nil)
	green := newBackend(t, "green", nil)
	cfg := func(wBlue, wGreen int) Config {
		return oneListener(forward("blue", wBlue, "green", wGreen),
			group("blue", blue.addr), group("green", green.addr))
	}
	p := startProxy(t, cfg(100, 0))
	url := baseURL(p, "web") + "/"

	stop := make(chan struct{})
	res, wait := hammer(t, url, 8, stop)
	for i := range 10 {
		time.Sleep(200 * time.Millisecond)
		if i%2 == 0 {
			mustApply(t, p, cfg(0, 100))
		} else {
			mustApply(t, p, cfg(100, 0))
		}
	}
	mustApply(t, p, cfg(0, 100))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wait()

	if n := res.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during weight switches; first: %v", n, n+res.ok.Load(), res.firstErr.Load())
	}
	if res.ok.Load() < 100 {
		t.Errorf("only %d requests succeeded; the load did not run", res.ok.Load())
	}
	if blue.hits.Load() == 0 || green.hits.Load() == 0 {
		t.Errorf("hits blue=%d green=%d; both groups should have served during the switches", blue.hits.Load(), green.hits.Load())
	}
	c := newClient()
	for range 50 {
		if code, body := get(t, c, url); code != 200 || body != "green" {
			t.Fatalf("after switching to green: got %d %q, want 200 green", code, body)
		}
	}
}

func TestRemovingTargetUnderLoadFailsNothing(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	p := startProxy(t, oneListener(forward("app", 1), group("app", a.addr, b.addr)))
	url := baseURL(p, "web") + "/"

	stop := make(chan struct{})
	res, wait := hammer(t, url, 8, stop)
	time.Sleep(500 * time.Millisecond)
	mustApply(t, p, oneListener(forward("app", 1), group("app", a.addr)))
	select {
	case <-p.Drained("app", b.addr):
	case <-time.After(5 * time.Second):
		t.Error("removed target did not drain within its 5s deregistration delay")
	}
	hitsAfterDrain := b.hits.Load()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wait()

	if n := res.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed while a target was removed; first: %v", n, n+res.ok.Load(), res.firstErr.Load())
	}
	if b.hits.Load() != hitsAfterDrain {
		t.Errorf("removed target got %d requests after it drained", b.hits.Load()-hitsAfterDrain)
	}
	if _, ok := targetState(p, "app", b.addr); ok {
		t.Errorf("drained target still listed in Targets()")
	}
}

func TestLongRequestOnDeregisteredTargetCompletes(t *testing.T) {
	started := make(chan struct{}, 1)
	slow := newBackend(t, "slow", func(mux *http.ServeMux) {
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			time.Sleep(5 * time.Second)
			io.WriteString(w, "finished")
		})
	})
	other := newBackend(t, "other", nil)
	g := group("app", slow.addr)
	g.DeregistrationDelay = 60 * time.Second
	p := startProxy(t, oneListener(forward("app", 1), g))
	url := baseURL(p, "web")

	req, _ := http.NewRequest(http.MethodGet, url+"/slow", nil)
	done := make(chan answer, 1)
	sendAsync(req, done)
	<-started

	g.Targets = []string{other.addr}
	mustApply(t, p, oneListener(forward("app", 1), g))
	drained := p.Drained("app", slow.addr)
	select {
	case <-drained:
		t.Fatal("Drained closed while a request was still in flight")
	default:
	}
	if st, _ := targetState(p, "app", slow.addr); st.State != StateDraining || st.InFlight != 1 {
		t.Errorf("Targets() shows %+v, want draining with 1 in flight", st)
	}
	if code, body := get(t, newClient(), url+"/"); code != 200 || body != "other" {
		t.Errorf("new request went to %d %q, want 200 other", code, body)
	}

	r := <-done
	if r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("long request: %d %q %v, want 200 finished", r.code, r.body, r.err)
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second): // the delay is 60s
		t.Fatal("Drained did not close after the last request finished")
	}
}

// A request still waiting on a removed target when its deregistration
// delay ends is cut then, with a 502 that says why: a plain GET (which
// the own server serves) and a POST (which net/http serves).
func TestRequestsLeftAtTheEndOfTheDelayAreCut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 4)
	stuck := newBackend(t, "stuck", func(mux *http.ServeMux) {
		mux.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
	})
	other := newBackend(t, "other", nil)
	const delay = 300 * time.Millisecond
	g := group("app", stuck.addr)
	g.DeregistrationDelay = delay
	p := startProxy(t, oneListener(forward("app", 1), g))
	url := baseURL(p, "web") + "/stuck"

	done := make(chan answer, 2)
	get, _ := http.NewRequest(http.MethodGet, url, nil)
	post, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
	for _, req := range []*http.Request{get, post} {
		sendAsync(req, done)
		<-started
	}
	g.Targets = []string{other.addr}
	removed := time.Now()
	mustApply(t, p, oneListener(forward("app", 1), g))
	for range 2 {
		select {
		case r := <-done:
			if r.err != nil || r.code != http.StatusBadGateway || !strings.Contains(r.body, "was deregistered") {
				t.Errorf("request left on the removed target: %d %q %v, want 502 ... was deregistered", r.code, r.body, r.err)
			}
			if waited := time.Since(removed); waited < delay {
				t.Errorf("request cut after %v, before the %v delay", waited, delay)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request on the removed target was not cut 10 s after its 300ms delay")
		}
	}
}

// answer is what a request sent by sendAsync got.
type answer struct {
	code int
	body string
	err  error
}

// sendAsync sends req on a new client from a goroutine, and delivers its
// answer to done.
func sendAsync(req *http.Request, done chan<- answer) {
	go func() {
		resp, err := newClient().Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- answer{resp.StatusCode, string(body), err}
	}()
}

// newWSEchoBackend is a backend whose /ws echoes WebSocket messages of
// any size.
func newWSEchoBackend(t *testing.T) *backend {
	t.Helper()
	return newBackend(t, "echo", func(mux *http.ServeMux) {
		mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			c.SetReadLimit(-1)
			for {
				typ, msg, err := c.Read(r.Context())
				if err != nil {
					return
				}
				if err := c.Write(r.Context(), typ, msg); err != nil {
					return
				}
			}
		})
	})
}

func TestWebSocketDrainsUntilDeregistrationDelay(t *testing.T) {
	echo := newWSEchoBackend(t)
	other := newBackend(t, "other", nil)
	const delay = 2 * time.Second
	g := group("app", echo.addr)
	g.DeregistrationDelay = delay
	p := startProxy(t, oneListener(forward("app", 1), g))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+p.Addr("web").String()+"/ws", nil)
	if err != nil {
		t.Fatalf("dialing WebSocket through the proxy: %v", err)
	}
	defer conn.CloseNow()
	roundTrip := func(msg string) error {
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return err
		}
		_, got, err := conn.Read(ctx)
		if err == nil && string(got) != msg {
			t.Errorf("echo: got %q, want %q", got, msg)
		}
		return err
	}
	if err := roundTrip("before"); err != nil {
		t.Fatalf("echo before deregistration: %v", err)
	}

	g.Targets = []string{other.addr}
	mustApply(t, p, oneListener(forward("app", 1), g))
	removed := time.Now()
	drained := p.Drained("app", echo.addr)
	for i := 0; time.Since(removed) < delay/2; i++ {
		if err := roundTrip("during drain"); err != nil {
			t.Fatalf("WebSocket broke %v into the drain (delay %v): %v", time.Since(removed), delay, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-drained:
		t.Fatal("Drained closed while the WebSocket was open")
	default:
	}

	// After the delay the connection is cut: a read fails, and not
	// because the read itself timed out.
	readCtx, cancelRead := context.WithTimeout(ctx, delay+5*time.Second)
	defer cancelRead()
	_, _, err = conn.Read(readCtx)
	if err == nil || readCtx.Err() != nil {
		t.Fatalf("WebSocket still open %v after the deregistration delay (read: %v)", time.Since(removed)-delay, err)
	}
	if cut := time.Since(removed); cut < delay {
		t.Errorf("WebSocket cut after %v, before the %v delay", cut, delay)
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Drained did not close after the delay")
	}
}
