package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parkingProxy is a proxy with one plain listener in front of a backend
// that echoes request bodies, and that listener.
func parkingProxy(t *testing.T) (*Proxy, *listener) {
	t.Helper()
	be := newBackend(t, "blue", func(mux *http.ServeMux) {
		mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, r.Body)
		})
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w, "slow")
		})
	})
	p := startProxy(t, oneListener(forward("blue", 1), group("blue", be.addr)))
	l := p.listeners["web"]
	if l.parker == nil {
		t.Fatal("the plain listener does not park its idle connections")
	}
	return p, l
}

// rawClient is one client connection written to by hand. Its checks
// end the test, or, in a goroutine of the test, that goroutine.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (rc *rawClient) fatalf(format string, args ...any) {
	rc.t.Helper()
	rc.t.Errorf(format, args...)
	runtime.Goexit()
}

func dialRaw(t *testing.T, p *Proxy) *rawClient {
	t.Helper()
	return newRawClient(t, dialTCP(t, p))
}

// dialTCP is a TCP connection to the listener, closed when the test ends.
func dialTCP(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr("web").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// newRawClient writes to c by hand and reads its responses.
func newRawClient(t *testing.T, c net.Conn) *rawClient {
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawClient) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.fatalf("%v", err)
	}
}

// response reads one response and returns its status and body.
func (rc *rawClient) response(method string) (int, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.fatalf("reading a response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.fatalf("reading a response body: %v", err)
	}
	return resp.StatusCode, string(b)
}

func (rc *rawClient) expect(method, want string) {
	rc.t.Helper()
	if code, body := rc.response(method); code != 200 || body != want {
		rc.fatalf("got %d %q, want 200 %q", code, body, want)
	}
}

func waitParked(t *testing.T, l *listener, n int) {
	t.Helper()
	eventually(t, "parked connections", func() bool { return l.parker.parkedCount() == n })
}

const getRoot = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

func TestIdleConnectionIsParkedAndServedAgain(t *testing.T) {
	p, l := parkingProxy(t)
	rc := dialRaw(t, p)
	rc.send(getRoot)
	rc.expect("GET", "blue")
	waitParked(t, l, 1)
	if n := l.conns.Load(); n != 1 {
		t.Fatalf("open connections = %d while one is parked, want 1", n)
	}
	if want := `cutover_listener_parked_connections{listener="web"} 1`; !strings.Contains(scrape(t, p), want) {
		t.Errorf("metrics lack %s", want)
	}

	// The same connection serves again, each kind of request.
	rc.send(getRoot)
	rc.expect("GET", "blue")
	waitParked(t, l, 1)
	rc.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.expect("HEAD", "")
	waitParked(t, l, 1)
	rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	rc.expect("POST", "hello")
	// Pipelined requests are answered in order; net/http then keeps the
	// connection (it holds a byte of the next request) and it is not
	// parked again.
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.expect("GET", "blue")
	rc.expect("GET", "blue")
	rc.expect("GET", "blue")
	rc.send(getRoot)
	rc.expect("GET", "blue")
}

// A request sent while the previous one is still being served reaches
// net/http's background read first; the connection is parked afterwards
// all the same.
func TestNextRequestDuringAResponseStillParks(t *testing.T) {
	p, l := parkingProxy(t)
	rc := dialRaw(t, p)
	rc.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the proxy waits for the target now
	rc.send(getRoot)
	rc.expect("GET", "slow")
	rc.expect("GET", "blue")
	waitParked(t, l, 1)
	rc.send(getRoot)
	rc.expect("GET", "blue")
}

func TestParkedConnectionGetsAHeadInPieces(t *testing.T) {
	p, l := parkingProxy(t)
	rc := dialRaw(t, p)
	rc.send(getRoot)
	rc.expect("GET", "blue")
	waitParked(t, l, 1)
	rc.send("GET / HT")
	waitParked(t, l, 0)
	time.Sleep(3 * parkAfter) // the rest comes later than a park would wait
	rc.send("TP/1.1\r\nHost: a\r\n\r\n")
	rc.expect("GET", "blue")
	// A body sent in pieces after its head, on a parked connection.
	waitParked(t, l, 1)
	rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab")
	time.Sleep(3 * parkAfter)
	rc.send("cdef")
	rc.expect("POST", "abcdef")
}

func TestParkedConnectionClosedByItsClient(t *testing.T) {
	p, l := parkingProxy(t)
	rc := dialRaw(t, p)
	rc.send(getRoot)
	rc.expect("GET", "blue")
	waitParked(t, l, 1)
	rc.c.Close()
	eventually(t, "the listener to count no connection", func() bool { return l.conns.Load() == 0 })
	if n := l.parker.parkedCount(); n != 0 {
		t.Fatalf("%d connections parked after the client closed", n)
	}
}

func TestParkedConnectionsExpire(t *testing.T) {
	p, l := parkingProxy(t)
	used := dialRaw(t, p)
	used.send(getRoot)
	used.expect("GET", "blue")
	waitParked(t, l, 1)
	expectExpiry(t, l, used.c, idleTimeout)
	eventually(t, "the listener to count no connection", func() bool { return l.conns.Load() == 0 })
}

// expectExpiry checks that l's one parked connection, c, is still parked
// a second before timeout from now and closed a second after it.
func expectExpiry(t *testing.T, l *listener, c net.Conn, timeout time.Duration) {
	t.Helper()
	l.parker.sweep(time.Now().Add(timeout - time.Second))
	if n := l.parker.parkedCount(); n != 1 {
		t.Fatalf("%d connections parked a second before the %v timeout, want 1", n, timeout)
	}
	l.parker.sweep(time.Now().Add(timeout + time.Second))
	assertClosed(t, c)
}

func TestNewConnectionIsParkedUntilTheHeaderTimeout(t *testing.T) {
	p, l := parkingProxy(t)
	quiet := dialRaw(t, p)
	waitParked(t, l, 1)
	expectExpiry(t, l, quiet.c, readHeaderTimeout)

	late := dialRaw(t, p)
	waitParked(t, l, 1)
	late.send(getRoot)
	late.expect("GET", "blue")
}

func TestShutdownClosesParkedConnections(t *testing.T) {
	p, l := parkingProxy(t)
	rc := dialRaw(t, p)
	rc.send(getRoot)
	rc.expect("GET", "blue")
	waitParked(t, l, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr := p.Addr("web").String()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertClosed(t, rc.c)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the listener's address is still taken after Close: %v", err)
	}
	ln.Close()
}

func assertClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || (err != io.EOF && !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("read on a connection the proxy closed: %d bytes, %v", n, err)
	}
}

// TestParkingUnderMixedTraffic sends requests of every kind the framing
// tells apart, with pauses on both sides of parkAfter, from several
// clients at once, and checks every answer. The clients that send only
// bodiless requests one at a time are parked at the end.
func TestParkingUnderMixedTraffic(t *testing.T) {
	p, l := parkingProxy(t)
	pauses := []time.Duration{0, parkAfter / 5, parkAfter - time.Millisecond, parkAfter + time.Millisecond, 3 * parkAfter}
	const clients = 8
	var wg sync.WaitGroup
	for client := range clients {
		kinds := 2 // GET and HEAD only: never pass-through
		if client%2 == 1 {
			kinds = 5 // bodies and pipelining too
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 1))
			rc := dialRaw(t, p)
			for i := range 60 {
				time.Sleep(pauses[rng.IntN(len(pauses))])
				mixedRequest(rc, rng.IntN(kinds), fmt.Sprintf("c%d-r%d", client, i), pauses[rng.IntN(len(pauses))])
			}
		}()
	}
	wg.Wait()
	eventually(t, "the GET and HEAD clients parked", func() bool { return l.parker.parkedCount() >= clients/2 })
}

// mixedRequest sends one request (or two, pipelined) of the given kind
// and checks the answers.
func mixedRequest(rc *rawClient, kind int, body string, pause time.Duration) {
	switch kind {
	case 0:
		rc.send(getRoot)
		rc.expect("GET", "blue")
	case 1:
		rc.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
		rc.expect("HEAD", "")
	case 2:
		rc.send(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		rc.expect("POST", body)
	case 3:
		rc.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + getRoot)
		rc.expect("HEAD", "")
		rc.expect("GET", "blue")
	case 4:
		rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTT")
		time.Sleep(pause)
		rc.send("P/1.1\r\nHost: a\r\n\r\n")
		rc.expect("GET", "blue")
		rc.expect("GET", "blue")
	}
}

// A request that starts on a kept-alive connection has net/http's head
// timeout (10s) for the rest of its head, not the 120s keep-alive one.
func TestSlowHeadOnAKeptConnectionTimesOut(t *testing.T) {
	t.Parallel()
	p, _ := parkingProxy(t)
	rc := dialRaw(t, p)
	rc.c.SetDeadline(time.Now().Add(60 * time.Second))
	rc.send(getRoot)
	rc.expect("GET", "blue")
	rc.send("GET / HT") // at once: the connection is not parked
	time.Sleep(readHeaderTimeout + 5*time.Second)
	io.WriteString(rc.c, "TP/1.1\r\nHost: a\r\n\r\n") // may fail: the proxy closed
	if resp, err := http.ReadResponse(rc.br, nil); err == nil {
		t.Fatalf("a head that took %v to arrive was answered %s; want the connection closed", readHeaderTimeout+5*time.Second, resp.Status)
	}
}

type recordingWatcher struct {
	name  string
	woken chan string
}

func (w *recordingWatcher) ready()   { w.woken <- w.name }
func (w *recordingWatcher) expired() {}

// TestStaleEventWakesNoNewConnection: an event the poller read for a
// socket that was then forgotten and closed must not wake the watcher of
// a new connection that got the same descriptor meanwhile.
func TestStaleEventWakesNoNewConnection(t *testing.T) {
	p, err := newPoller(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client1, server1 := dialPair(t, ln)
	fd := socketOf(server1)
	woken := make(chan string, 2)
	if err := p.watchGone(fd, &recordingWatcher{"old", woken}); err != nil {
		t.Fatal(err)
	}
	client2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()

	// With the lock held, the loop reads the old socket's event and waits
	// to take it while the socket is forgotten, closed, and its
	// descriptor given to a new connection that is watched in turn.
	p.mu.Lock()
	client1.(*net.TCPConn).CloseWrite()
	time.Sleep(50 * time.Millisecond)
	p.removeLocked(fd)
	server1.Close()
	server2, err := ln.Accept()
	if err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	defer server2.Close()
	if socketOf(server2) != fd {
		p.mu.Unlock()
		t.Skip("the descriptor was not reused")
	}
	err = p.addLocked(fd, unix.EPOLLRDHUP, pollEntry{w: &recordingWatcher{"new", woken}, serving: true})
	p.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case who := <-woken:
		t.Fatalf("watcher %q woken by an event of the socket closed before it", who)
	case <-time.After(300 * time.Millisecond):
	}
	client2.(*net.TCPConn).CloseWrite()
	select {
	case who := <-woken:
		if who != "new" {
			t.Fatalf("watcher %q woken, want the new one", who)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the new connection's own event woke no one")
	}
}

// The poller's loop must wait in Go's netpoller, not in an epoll_wait
// system call: a goroutine in a system call keeps the processor, and with
// GOMAXPROCS=1 every request waited for the runtime to take it back
// (10–20 ms each time the loop went back to waiting; bench/RESULTS.md).
// Go's stack dump names the state: "IO wait" in the netpoller, "syscall"
// in a system call.
func TestPollerWaitsInGoNetpoller(t *testing.T) {
	p, err := newPoller(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	state := ""
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		if state = pollerLoopState(); state == "IO wait" {
			break
		}
	}
	if state != "IO wait" {
		t.Fatalf("the poller's loop waits in state %q, want %q", state, "IO wait")
	}

	// And it still wakes its watchers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, server := dialPair(t, ln)
	woken := make(chan string, 1)
	if err := p.watch(socketOf(server), &recordingWatcher{"readable", woken}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("x"))
	select {
	case who := <-woken:
		if who != "readable" {
			t.Fatalf("got %q", who)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a readable socket woke no watcher")
	}
}

// dialPair connects to ln and returns both ends of the connection, closed
// when the test ends.
func dialPair(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// pollerLoopState returns the state Go's stack dump gives the poller's
// loop goroutine ("IO wait", "syscall", "running", ...), or "".
func pollerLoopState() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "(*poller).loop(") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(head, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",") // "IO wait, 2 minutes"
		return state
	}
	return ""
}

// countingParker hands out buffers and counts those not given back.
type countingParker struct {
	bufferParker
	out atomic.Int64
}

func (p *countingParker) getBuffer() *[]byte { p.out.Add(1); return p.bufferParker.getBuffer() }
func (p *countingParker) putBuffer(*[]byte)  { p.out.Add(-1) }

// h2Frame is an HTTP/2 frame of the given payload, as far as its length
// goes (type DATA, stream 1).
func h2Frame(payload string) string {
	n := len(payload)
	return string([]byte{byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, 0, 0, 1}) + payload
}

// TestH2cReadsAhead: net/http's HTTP/2 server reads each frame's header
// and payload with a read each; an h2c parkConn reads what has come into
// a buffer instead, and gives every byte in order. A connection waiting
// for its next frame holds no buffer, also after a frame without payload.
func TestH2cReadsAhead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, server := dialPair(t, ln)
	parker := &countingParker{}
	var open atomic.Int64
	c := newParkConn(server, parker, -1, &open)
	defer c.Close()

	// readFrame reads as net/http's Framer does: the 9-byte header, then
	// the payload it announces.
	readFrame := func() (string, error) {
		head := make([]byte, 9)
		if _, err := io.ReadFull(c, head); err != nil {
			return "", err
		}
		payload := make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
		if _, err := io.ReadFull(c, payload); err != nil {
			return "", err
		}
		return string(payload), nil
	}
	frames := []string{"", "one", strings.Repeat("x", 5000), "three", ""}
	var all strings.Builder
	all.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	for _, f := range frames {
		all.WriteString(h2Frame(f))
	}
	if _, err := io.WriteString(client, all.String()); err != nil {
		t.Fatal(err)
	}
	preface := make([]byte, len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	if _, err := io.ReadFull(c, preface); err != nil {
		t.Fatal(err)
	}
	for i, want := range frames {
		got, err := readFrame()
		if err != nil || got != want {
			t.Fatalf("frame %d: %d bytes, %v; want %d bytes", i, len(got), err, len(want))
		}
	}

	// A frame without payload, alone: its header is read in full, straight
	// from the socket; the next read finds nothing yet.
	io.WriteString(client, h2Frame(""))
	if got, err := readFrame(); err != nil || got != "" {
		t.Fatalf("empty frame: %q, %v", got, err)
	}
	next := make(chan string)
	go func() {
		got, err := readFrame()
		if err != nil {
			got = err.Error()
		}
		next <- got
	}()
	time.Sleep(50 * time.Millisecond) // the read waits for the next frame
	if n := parker.out.Load(); n != 0 {
		t.Errorf("%d buffers held while the connection waits for its next frame, want 0", n)
	}
	io.WriteString(client, h2Frame("later"))
	if got := <-next; got != "later" {
		t.Errorf("next frame = %q, want later", got)
	}
	if n := parker.out.Load(); n != 0 {
		t.Errorf("%d buffers held after reading all, want 0", n)
	}
}
