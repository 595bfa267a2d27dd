package dataplane

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/testcert"
)

// A hand-over of a data plane with an HTTPS listener, under load, fails no
// request: neither on new connections, each a TLS handshake, some of which
// the old data plane accepted before it stopped accepting, nor on
// keep-alive ones sending POSTs, which Go's client does not retry once
// any byte was sent, nor on an HTTP/2 client's, which the old data plane
// sends GOAWAY through its batched writes (internal/proxy/h2batch.go).
func TestHandOverUnderHTTPSLoadFailsNothing(t *testing.T) {
	dir := t.TempDir()
	_, oldDone := runDataPlane(t, dir, false)
	c := NewClient(filepath.Join(dir, SocketName))
	listen := freeAddr(t)
	certFile, keyFile, pool := testcert.Files(t)
	cfg := config(listen, backend(t, "one"))
	cfg.Listeners[0].TLS = &proxy.TLSConfig{CertFile: certFile, KeyFile: keyFile}
	if _, err := c.Push(t.Context(), Push{Version: 1, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	url := "https://" + listen + "/"
	tlsConf := &tls.Config{RootCAs: pool}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true}}
	kept := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	defer kept.CloseIdleConnections()
	// A copy: the HTTP/2 transport adds h2 to its config's NextProtos.
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), ForceAttemptHTTP2: true}}
	defer h2.CloseIdleConnections()
	if err := call(fresh, http.MethodGet, url, 1); err != nil {
		t.Fatalf("before the hand-over: %v", err)
	}

	var requests, failures atomic.Int64
	var firstErr sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range []struct {
		client *http.Client
		method string
		proto  int // the HTTP major version the answer must come in
	}{{fresh, http.MethodGet, 1}, {fresh, http.MethodGet, 1}, {kept, http.MethodPost, 1}, {kept, http.MethodPost, 1}, {h2, http.MethodPost, 2}, {h2, http.MethodPost, 2}} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				if err := call(l.client, l.method, url, l.proto); err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("%s during the hand-over: %v", l.method, err) })
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	runDataPlane(t, dir, true)
	oldExited(t, oldDone)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed", requests.Load(), failures.Load())
	if failures.Load() > 0 {
		t.Errorf("%d of %d requests failed", failures.Load(), requests.Load())
	}
}

// call sends one request with a small body and checks the answer, and
// that it came in HTTP/major.
func call(c *http.Client, method, url string, major int) error {
	req, err := http.NewRequest(method, url, strings.NewReader("x"))
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if res.StatusCode != http.StatusOK || string(b) != "one" || res.ProtoMajor != major {
		return fmt.Errorf("got %s %d %q, want HTTP/%d 200 \"one\"", res.Proto, res.StatusCode, b, major)
	}
	return nil
}
