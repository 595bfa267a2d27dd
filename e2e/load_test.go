package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// strictLoad is a closed-loop HTTP/1.1 load like wrk's: each worker keeps
// one connection alive and sends GET / on it, and never retries. A
// response that is not 2xx, or a connection that fails before the whole
// response arrived (refused, reset, closed early), counts as failed.
// Go's http.Client is not used because it retries idempotent requests on
// a closed keep-alive connection, which would hide exactly the failures
// a restart can cause.
type strictLoad struct {
	addr   string
	host   string        // the Host header; "" means "e2e"
	tls    *tls.Config   // nil: plain HTTP
	pause  time.Duration // between a worker's requests; 0: none
	stop   chan struct{}
	wg     sync.WaitGroup
	sent   atomic.Int64
	non2xx atomic.Int64
	socket atomic.Int64
	// connect counts failed connects (also in socket): refused, or timed out.
	connect atomic.Int64
	first   atomic.Value // string: the first failure
}

func startStrictLoad(addr string, workers int) *strictLoad {
	return startPacedLoad(addr, workers, 0)
}

// startPacedLoad is startStrictLoad with a pause after each request, for
// tests that build while the load runs and must leave the CPUs to it.
func startPacedLoad(addr string, workers int, pause time.Duration) *strictLoad {
	l := &strictLoad{addr: addr, pause: pause, stop: make(chan struct{})}
	for range workers {
		l.wg.Go(l.worker)
	}
	return l
}

// startHostLoad is startStrictLoad with its own Host header, for apps
// that share a listener by host name, over TLS when tlsConfig is not nil.
func startHostLoad(addr, host string, tlsConfig *tls.Config, workers int) *strictLoad {
	l := &strictLoad{addr: addr, host: host, tls: tlsConfig, stop: make(chan struct{})}
	for range workers {
		l.wg.Go(l.worker)
	}
	return l
}

func (l *strictLoad) worker() {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
			if err != nil {
				l.connect.Add(1)
				l.fail(&l.socket, "connect: "+err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if l.tls != nil {
				c = tls.Client(c, l.tls)
			}
			conn, br = c, bufio.NewReader(c)
		}
		closeAfter, err := l.exchange(conn, br)
		if err != nil {
			conn.Close()
			conn = nil
			l.fail(&l.socket, err.Error())
			continue
		}
		if closeAfter {
			conn.Close()
			conn = nil
		}
		time.Sleep(l.pause)
	}
}

// exchange sends one request and reads its whole response.
func (l *strictLoad) exchange(conn net.Conn, br *bufio.Reader) (closeAfter bool, err error) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	l.sent.Add(1)
	host := l.host
	if host == "" {
		host = "e2e"
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+host+"\r\nUser-Agent: strict-load\r\n\r\n"); err != nil {
		return false, fmt.Errorf("writing: %w", err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, fmt.Errorf("reading the response: %w", err)
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return false, fmt.Errorf("reading the body: %w", err)
	}
	if res.StatusCode/100 != 2 {
		l.fail(&l.non2xx, "status "+res.Status)
	}
	return res.Close, nil
}

func (l *strictLoad) fail(counter *atomic.Int64, what string) {
	counter.Add(1)
	l.first.CompareAndSwap(nil, what)
}

// finish stops the load and fails the test on any failed request.
func (l *strictLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("strict load: %d requests, %d non-2xx, %d socket errors", l.sent.Load(), l.non2xx.Load(), l.socket.Load())
	if n := l.non2xx.Load() + l.socket.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, l.sent.Load(), l.first.Load())
	}
	if l.sent.Load() == 0 {
		t.Error("no request was sent")
	}
}
