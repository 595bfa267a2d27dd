package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// acmeApp is hello-node with tls: auto on its production listener for
// hosts, a plain listener on http, and cutover started against pebble.
type acmeApp struct {
	*helloApp
	http    int
	metrics int
	pebble  *pebble
	hosts   []string
}

func newACMEApp(t *testing.T, hosts []string, withHTTP bool, pcfg pebbleConfig) *acmeApp {
	t.Helper()
	a := &acmeApp{http: freePort(t), metrics: freePort(t), hosts: hosts}
	a.helloApp = newHelloApp(t, func(cfg string) string {
		extra := fmt.Sprintf("listeners:\n  hosts: [%s]\n  tls: auto\n  hsts: true\n", strings.Join(hosts, ", "))
		if withHTTP {
			extra += fmt.Sprintf("  http: \"127.0.0.1:%d\"\n", a.http)
		}
		return strings.Replace(cfg, "listeners:\n", extra, 1)
	})
	// The smoke hook of appspec.yaml would call the test listener without
	// the host names it now needs.
	if err := os.Remove(filepath.Join(a.dir, "appspec.yaml")); err != nil {
		t.Fatal(err)
	}
	pcfg.TLSPort = a.prod
	if withHTTP {
		pcfg.HTTPPort = a.http
	}
	a.pebble = newPebble(t, pcfg)
	return a
}

// up starts cutover with pebble as its ACME CA.
func (a *acmeApp) up(t *testing.T, extra ...string) *process {
	t.Helper()
	args := []string{"up", a.dir, "--data", a.data, "--api-addr", "",
		"--metrics", fmt.Sprintf("127.0.0.1:%d", a.metrics),
		"--acme-ca", a.pebble.directory(), "--acme-ca-root", a.pebble.minica, "--acme-email", "ops@cutover.test",
		"--acme-renew-check", "1s", "--acme-retry", "1s"}
	p := start(t, append(args, extra...)...)
	a.waitIdle(t)
	return p
}

type certStatus struct {
	Host        string
	State       string
	NotAfter    *time.Time `json:"not_after"`
	Error       string
	Failures    int
	NextAttempt *time.Time `json:"next_attempt"`
}

func (a *acmeApp) certs(t *testing.T) map[string]certStatus {
	t.Helper()
	out, code := run(t, "certs", "--data", a.data, "--json")
	if code != 0 {
		t.Fatalf("cutover certs: exit %d: %s", code, out)
	}
	var list []certStatus
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("cutover certs --json: %v: %s", err, out)
	}
	m := map[string]certStatus{}
	for _, c := range list {
		m[c.Host] = c
	}
	return m
}

func (a *acmeApp) waitValid(t *testing.T, host string, timeout time.Duration) certStatus {
	t.Helper()
	var st certStatus
	waitFor(t, "a certificate for "+host, timeout, func() bool {
		st = a.certs(t)[host]
		return st.State == "valid"
	})
	return st
}

// httpsClient trusts roots and connects to the production listener
// whatever the host name.
func (a *acmeApp) httpsClient(roots *x509.CertPool, keepAlive bool) *http.Client {
	addr := fmt.Sprintf("127.0.0.1:%d", a.prod)
	var d net.Dialer
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DisableKeepAlives: !keepAlive,
		ForceAttemptHTTP2: true,
	}}
}

func (a *acmeApp) httpsURL(host string) string { return fmt.Sprintf("https://%s:%d/", host, a.prod) }

// plainGet sends GET path with Host host to the plain listener, without
// following redirects.
func (a *acmeApp) plainGet(t *testing.T, host, path string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", a.http, path), nil)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (a *acmeApp) metric(t *testing.T, name, host string) (float64, bool) {
	t.Helper()
	_, body := get(newClient(), fmt.Sprintf("http://127.0.0.1:%d/metrics", a.metrics))
	m := regexp.MustCompile(`(?m)^` + name + `\{host="` + regexp.QuoteMeta(host) + `"\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestACMECertificatesForTwoHosts: pebble validates cutover's own
// plain listener (HTTP-01) and issues certificates for two hosts of two
// apps sharing the listeners, served by name to a client that
// trusts pebble; a third name gets the unrecognized_name alert, the plain
// listener redirects, and the files are private.
func TestACMECertificatesForTwoHosts(t *testing.T) {
	hosts := []string{"a.cutover.test", "b.cutover.test"}
	a := newACMEApp(t, hosts[:1], true, pebbleConfig{})
	// A second app on the same HTTPS and plain listeners, by host.
	shop := newHostApp(t, "shop", hosts[1], a.prod, "")
	shopCfg := filepath.Join(shop.dir, "cutover.yaml")
	writeFile(t, shopCfg, strings.Replace(readFile(t, shopCfg), "  hosts: ["+hosts[1]+"]",
		fmt.Sprintf("  hosts: [%s]\n  tls: auto\n  http: \"127.0.0.1:%d\"", hosts[1], a.http), 1))
	a.pebble.start(t)
	cp := a.up(t, "--acme-challenges", "http-01") // TLS-ALPN-01: TestACMERenewalUnderLoad
	deployHostApp(t, a.data, shop, "Succeeded", "--env", "APP_VERSION=2.0.0")
	for _, h := range hosts {
		a.waitValid(t, h, 90*time.Second)
	}
	roots := a.pebble.roots(t)
	client := a.httpsClient(roots, true)
	defer client.CloseIdleConnections()
	for i, h := range hosts {
		version, hsts := []string{"1.0.0", "2.0.0"}[i], []string{"max-age=31536000", ""}[i]
		resp, err := client.Get(a.httpsURL(h))
		if err != nil {
			t.Fatalf("GET %s: %v", a.httpsURL(h), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"version":"`+version+`"`) {
			t.Errorf("%s: %d %s, want version %s", h, resp.StatusCode, body, version)
		}
		leaf := resp.TLS.PeerCertificates[0]
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("%s: served a certificate for %v: %v", h, leaf.DNSNames, err)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != hsts {
			t.Errorf("%s: Strict-Transport-Security %q, want %q", h, got, hsts)
		}
		code, loc, _ := a.plainGet(t, h, "/x?y=1")
		if want := fmt.Sprintf("https://%s:%d/x?y=1", h, a.prod); code != http.StatusPermanentRedirect || loc != want {
			t.Errorf("http://%s/x?y=1: %d to %q, want 308 to %q", h, code, loc, want)
		}
		exp, ok := a.metric(t, "cutover_certificate_expiry_timestamp_seconds", h)
		if !ok || int64(exp) != leaf.NotAfter.Unix() {
			t.Errorf("%s: expiry metric %v (%v), want %d", h, exp, ok, leaf.NotAfter.Unix())
		}
	}

	// A name with no certificate gets a TLS alert, not another name's
	// certificate.
	_, err := client.Get(a.httpsURL("c.cutover.test"))
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Errorf("GET https://c.cutover.test: %v, want the unrecognized_name alert", err)
	}
	checkPrivate(t, filepath.Join(a.data, "acme"))

	// The certificates outlive both planes: with the control plane
	// stopped the data plane serves them, and a data plane started anew
	// loads them from the data directory instead of asking the CA again.
	issued := strings.Count(a.pebble.out.output(), "Issued certificate serial")
	cp.cmd.Process.Signal(syscall.SIGTERM)
	<-cp.done
	checkServed(t, client, a.httpsURL(hosts[0]), hosts[0])
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(a.data, "dataplane.pid"))))
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "the data plane to be gone", 10*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
	client.CloseIdleConnections()
	a.up(t, "--acme-challenges", "http-01")
	for _, h := range hosts {
		a.waitValid(t, h, 30*time.Second)
		checkServed(t, client, a.httpsURL(h), h)
	}
	if now := strings.Count(a.pebble.out.output(), "Issued certificate serial"); now != issued {
		t.Errorf("pebble issued %d certificates after the restart, want none (it had issued %d)", now-issued, issued)
	}
}

// checkServed fails unless url answers 200 over a certificate for host.
func checkServed(t *testing.T, client *http.Client, url, host string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].VerifyHostname(host) != nil {
		t.Errorf("GET %s: %d, certificate for %v", url, resp.StatusCode, resp.TLS.PeerCertificates[0].DNSNames)
	}
}

// checkPrivate fails unless dir and its directories are 0700 and its
// files 0600 (certmagic's lock files, which hold no secret, aside).
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && info.Mode().Perm() != 0o700:
			t.Errorf("%s: mode %v, want 0700", path, info.Mode().Perm())
		case !d.IsDir() && !strings.HasSuffix(path, ".lock") && info.Mode().Perm() != 0o600:
			t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
		case strings.HasSuffix(path, ".key"):
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("no private key under %s", dir)
	}
}

// httpsLoad sends requests to hosts without pause: half the workers on
// keep-alive connections, half on a new connection (a new handshake)
// per request. It counts failures and the certificates it was served.
type httpsLoad struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	sent    atomic.Int64
	failed  atomic.Int64
	mu      sync.Mutex
	first   error
	serials map[string]map[string]bool // by host
}

func startHTTPSLoad(a *acmeApp, roots *x509.CertPool, hosts []string, workers int) *httpsLoad {
	l := &httpsLoad{stop: make(chan struct{}), serials: map[string]map[string]bool{}}
	for _, h := range hosts {
		l.serials[h] = map[string]bool{}
	}
	for i := range workers {
		client := a.httpsClient(roots, i%2 == 0)
		host := hosts[i/2%len(hosts)] // each host on both kinds of worker
		kind := "a new connection per request"
		if i%2 == 0 {
			kind = "kept connections"
		}
		l.wg.Go(func() { l.worker(client, host, a.httpsURL(host), kind) })
	}
	return l
}

func (l *httpsLoad) worker(client *http.Client, host, url, kind string) {
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.sent.Add(1)
		resp, err := client.Get(url)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		l.mu.Lock()
		if err != nil {
			l.failed.Add(1)
			if l.first == nil {
				l.first = fmt.Errorf("%s (%s, at %s)", err, kind, time.Now().Format("15:04:05.000"))
			}
		} else {
			l.serials[host][resp.TLS.PeerCertificates[0].SerialNumber.String()] = true
		}
		l.mu.Unlock()
	}
}

// certificatesSeen returns how many certificates of each host were
// served: the fewest of any host, and all of them together.
func (l *httpsLoad) certificatesSeen() (fewest, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fewest = -1
	for _, s := range l.serials {
		if fewest < 0 || len(s) < fewest {
			fewest = len(s)
		}
		total += len(s)
	}
	return fewest, total
}

func (l *httpsLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	_, total := l.certificatesSeen()
	t.Logf("HTTPS load: %d requests, %d failed, %d certificates served", l.sent.Load(), l.failed.Load(), total)
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", l.failed.Load(), l.sent.Load(), l.first)
	}
}

// TestACMERenewalUnderLoad: certificates valid for 40 seconds are renewed
// (by TLS-ALPN-01 alone: no plain listener) while clients keep sending
// requests over kept and new connections, with the control plane
// stopped; then cutover is started again and upgraded (a new data plane
// takes the sockets over). No request fails, and the new certificates
// are served.
func TestACMERenewalUnderLoad(t *testing.T) {
	hosts := []string{"a.cutover.test", "b.cutover.test"}
	a := newACMEApp(t, hosts, false, pebbleConfig{Validity: 40 * time.Second})
	a.pebble.start(t)
	cp := a.up(t)
	for _, h := range hosts {
		a.waitValid(t, h, 90*time.Second)
	}
	load := startHTTPSLoad(a, a.pebble.roots(t), hosts, 6)
	// The data plane renews on its own: the control plane is stopped
	// (SIGTERM) until both hosts were served a renewed certificate.
	cp.cmd.Process.Signal(syscall.SIGTERM)
	<-cp.done
	waitFor(t, "both certificates renewed and the renewed ones served", 120*time.Second, func() bool {
		fewest, _ := load.certificatesSeen()
		return fewest >= 2
	})
	a.up(t)
	// A data plane taking over serves the stored certificates from its
	// first handshake.
	if out, code := run(t, "upgrade", "--data", a.data); code != 0 {
		t.Fatalf("cutover upgrade: exit %d: %s", code, out)
	}
	time.Sleep(2 * time.Second) // requests on the new data plane
	load.finish(t)
	if load.sent.Load() < 100 {
		t.Errorf("only %d requests sent", load.sent.Load())
	}
}

// TestACMEDownIsRetriedAndAppServesHTTP: while the CA is down, getting a
// certificate is retried with a doubling wait and reported (certs, the
// metric), the app keeps answering on HTTP, and HTTPS answers with a TLS
// alert; once the CA is up the certificate comes and HTTP redirects. A
// name the CA refuses stays reported and keeps being served on HTTP.
func TestACMEDownIsRetriedAndAppServesHTTP(t *testing.T) {
	hosts := []string{"a.cutover.test", "blocked.cutover.test"}
	a := newACMEApp(t, hosts, true, pebbleConfig{Blocked: []string{"blocked.cutover.test"}})
	a.up(t) // pebble is not running

	var nexts []time.Time
	waitFor(t, "three failed attempts for a.cutover.test", 60*time.Second, func() bool {
		c := a.certs(t)["a.cutover.test"]
		if c.NextAttempt != nil && (len(nexts) == 0 || !nexts[len(nexts)-1].Equal(*c.NextAttempt)) {
			nexts = append(nexts, *c.NextAttempt)
		}
		return c.Failures >= 3 && len(nexts) >= 3
	})
	c := a.certs(t)["a.cutover.test"]
	if c.State != "failed" || !strings.Contains(c.Error, "connection refused") {
		t.Errorf("while the CA is down: %+v, want failed with connection refused", c)
	}
	for i := 2; i < len(nexts); i++ {
		if prev, gap := nexts[i-1].Sub(nexts[i-2]), nexts[i].Sub(nexts[i-1]); gap <= prev {
			t.Errorf("retries do not back off: next attempts %v", nexts)
		}
	}
	if v, ok := a.metric(t, "cutover_certificate_failures", "a.cutover.test"); !ok || v < 3 {
		t.Errorf("cutover_certificate_failures{host=a.cutover.test} = %v (%v), want >= 3", v, ok)
	}
	for _, h := range hosts {
		if code, _, body := a.plainGet(t, h, "/"); code != 200 || !strings.Contains(body, `"version":"1.0.0"`) {
			t.Errorf("http %s while the CA is down: %d %s, want the app", h, code, body)
		}
	}
	_, err := a.httpsClient(x509.NewCertPool(), false).Get(a.httpsURL("a.cutover.test"))
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Errorf("https without a certificate: %v, want the unrecognized_name alert", err)
	}

	a.pebble.start(t)
	a.waitValid(t, "a.cutover.test", 120*time.Second)
	if code, loc, _ := a.plainGet(t, "a.cutover.test", "/"); code != http.StatusPermanentRedirect || !strings.HasPrefix(loc, "https://a.cutover.test:") {
		t.Errorf("http a.cutover.test with its certificate: %d to %q, want 308 to https", code, loc)
	}
	waitFor(t, "the CA's refusal of blocked.cutover.test reported", 60*time.Second, func() bool {
		c := a.certs(t)["blocked.cutover.test"]
		return c.State == "failed" && c.Error != "" && !strings.Contains(c.Error, "connection refused")
	})
	t.Logf("refused: %s", a.certs(t)["blocked.cutover.test"].Error)
	if code, _, body := a.plainGet(t, "blocked.cutover.test", "/"); code != 200 || !strings.Contains(body, `"version":"1.0.0"`) {
		t.Errorf("http blocked.cutover.test: %d %s, want the app", code, body)
	}
}
