// Package acme gets and renews the certificates of the load balancer's
// "tls: auto" listeners from an ACME CA (Let's Encrypt by default), with
// the HTTP-01 and TLS-ALPN-01 challenges answered on cutover's own
// listeners. It is part of the data plane: the process that owns ports 80
// and 443 answers the challenges and serves the certificates, and keeps
// doing both while no control plane runs.
//
// The ACME protocol, storage and renewal are certmagic's (the engine of
// Caddy's automatic HTTPS). This package adds what cutover needs around
// it: one retry loop per host with a doubling wait and its last error
// (certmagic's own retries are silent and start at a minute), a status
// per host, and a handshake that answers a host without a certificate
// with the unrecognized_name alert instead of some other certificate.
//
// Invariants:
//   - Certificates, keys and the ACME account live under one directory
//     (<data>/acme), 0700, with files 0600. Data planes on the same data
//     directory (the one handing over and its successor) share it and
//     coordinate through certmagic's storage locks: a certificate is
//     obtained once, and a challenge started by one is answered by both.
//   - A certificate is renewed in the background while the old one keeps
//     serving; the new one is used from the next handshake on. No
//     connection is closed for it.
package acme

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// States of a host's certificate.
const (
	StateObtaining = "obtaining" // no certificate yet; the first attempt runs
	StateFailed    = "failed"    // no certificate; retried at NextAttempt
	StateValid     = "valid"     // served
	StateExpired   = "expired"   // the one kept is past NotAfter; renewal failing
)

// Status is one host's certificate as Manager.Status reports it.
type Status struct {
	Host      string
	State     string
	NotBefore time.Time `json:",omitzero"`
	NotAfter  time.Time `json:",omitzero"`
	Issuer    string    `json:",omitempty"` // the issuing CA's common name
	// Error is the last failure to obtain or renew, cleared by a success.
	Error       string    `json:",omitempty"`
	Failures    int       `json:",omitempty"` // failed attempts in a row
	NextAttempt time.Time `json:",omitzero"`  // when State is failed
}

// Ports are where cutover's listeners answer the challenges. certmagic
// would start its own challenge server on a free port; pointing it at
// ports cutover listens on makes it use cutover's listeners instead.
type Ports struct {
	HTTP int // a plain listener's port; 0: no HTTP-01, TLS-ALPN-01 only
	TLS  int // a tls: auto listener's port
}

// Manager keeps certificates for a set of hosts. Create it with New, give
// it hosts with Set, stop it with Close.
type Manager struct {
	log *slog.Logger
	dir string

	gen atomic.Pointer[generation] // nil until the first Set with hosts

	mu     sync.Mutex // guards the fields below; never held across I/O
	hosts  map[string]*hostLoop
	status map[string]*Status
	closed bool
}

// generation is certmagic set up for one Settings and Ports; a change of
// either makes a new one.
type generation struct {
	settings Settings
	ports    Ports
	cache    *certmagic.Cache
	magic    *certmagic.Config
	issuer   *certmagic.ACMEIssuer
	ctx      context.Context
	cancel   context.CancelFunc
}

type hostLoop struct {
	cancel context.CancelFunc
}

// New returns a Manager that keeps its certificates under dir.
func New(log *slog.Logger, dir string) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{log: log, dir: dir, hosts: map[string]*hostLoop{}, status: map[string]*Status{}}
}

// Set makes hosts the names the Manager keeps certificates for: new ones
// are obtained in the background, removed ones are no longer served. A
// change of settings or ports restarts certificate management. Stored
// certificates are loaded before Set returns, so a data plane that takes
// over, restarts or changes settings serves them from its first
// handshake, without asking the CA again. Set validates nothing: the
// caller has (Settings.Validate, ValidHost). Calls must not overlap.
func (m *Manager) Set(s Settings, ports Ports, hosts []string) error {
	s = s.WithDefaults()
	old := m.gen.Load()
	if len(hosts) == 0 && old == nil {
		return nil
	}
	g := old
	if old == nil || old.settings != s || old.ports != ports {
		var err error
		if g, err = m.newGeneration(s, ports); err != nil {
			return err
		}
	}
	for _, h := range hosts {
		if g != old || !m.Manages(h) {
			// Not found is the usual case of a new host.
			g.magic.CacheManagedCertificate(g.ctx, h)
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		g.stop()
		return fmt.Errorf("certificate manager is closed")
	}
	if g != old {
		m.stopLoops(slices.Collect(maps.Keys(m.hosts)))
		m.gen.Store(g)
		if old != nil {
			old.stop()
		}
	}
	var gone []string
	for h := range m.hosts {
		if !slices.Contains(hosts, h) {
			gone = append(gone, h)
		}
	}
	m.stopLoops(gone)
	for _, h := range gone {
		delete(m.status, h)
	}
	for _, h := range hosts {
		if m.hosts[h] == nil {
			m.startLoop(g, h)
		}
	}
	return nil
}

// newGeneration sets certmagic up for s and ports.
func (m *Manager) newGeneration(s Settings, ports Ports) (*generation, error) {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the certificate directory: %w", err)
	}
	if err := os.Chmod(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("restricting the certificate directory: %w", err)
	}
	roots, err := s.rootPool()
	if err != nil {
		return nil, err
	}
	g := &generation{settings: s, ports: ports}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	nop := zap.NewNop()
	g.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return g.magic, nil },
		RenewCheckInterval: s.RenewCheck,
		OCSPCheckInterval:  24 * time.Hour,
		Logger:             nop,
	})
	g.magic = certmagic.New(g.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: m.dir},
		Logger:  nop,
		OnEvent: m.onEvent,
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
	})
	g.issuer = certmagic.NewACMEIssuer(g.magic, certmagic.ACMEIssuer{
		CA:                      s.CA,
		TestCA:                  s.CA, // never fall back to another CA
		Email:                   s.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    ports.HTTP == 0 || s.NoHTTP01,
		DisableTLSALPNChallenge: s.NoTLSALPN01,
		AltHTTPPort:             ports.HTTP,
		AltTLSALPNPort:          ports.TLS,
		Logger:                  nop,
	})
	g.magic.Issuers = []certmagic.Issuer{g.issuer}
	return g, nil
}

func (g *generation) stop() {
	g.cancel()
	go g.cache.Stop() // waits for its maintenance to end
}

// Close stops every loop and certificate maintenance. Certificates stay
// stored.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	m.stopLoops(slices.Collect(maps.Keys(m.hosts)))
	if g := m.gen.Load(); g != nil {
		g.cancel()
		g.cache.Stop()
	}
}

// stopLoops ends the loops of hosts and forgets their certificates from
// memory (not from storage). Called with m.mu held.
func (m *Manager) stopLoops(hosts []string) {
	if g := m.gen.Load(); g != nil && len(hosts) > 0 {
		subjects := make([]certmagic.SubjectIssuer, len(hosts))
		for i, h := range hosts {
			subjects[i] = certmagic.SubjectIssuer{Subject: h}
		}
		g.cache.RemoveManaged(subjects)
	}
	for _, h := range hosts {
		if l := m.hosts[h]; l != nil {
			l.cancel()
			delete(m.hosts, h)
		}
	}
}

// startLoop gets host a certificate in the background, retrying with a
// doubling wait, then leaves renewals to certmagic's maintenance. Called
// with m.mu held.
func (m *Manager) startLoop(g *generation, host string) {
	ctx, cancel := context.WithCancel(g.ctx)
	m.hosts[host] = &hostLoop{cancel: cancel}
	if m.status[host] == nil {
		m.status[host] = &Status{Host: host, State: StateObtaining}
	}
	go m.obtain(ctx, g, host)
}

func (m *Manager) obtain(ctx context.Context, g *generation, host string) {
	wait := g.settings.RetryMin
	for {
		err := g.magic.ManageSync(ctx, []string{host})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			m.update(host, func(st *Status) { st.Error, st.Failures, st.NextAttempt = "", 0, time.Time{} })
			m.log.Info("certificate ready", "host", host)
			return
		}
		next := time.Now().Add(wait)
		m.update(host, func(st *Status) {
			st.Error, st.NextAttempt = err.Error(), next
			st.Failures++
		})
		m.log.Warn("getting a certificate failed; retrying", "host", host, "in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, g.settings.RetryMax)
	}
}

// onEvent records certmagic's renewals and their failures.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	host, _ := data["identifier"].(string)
	if host == "" {
		return nil
	}
	switch event {
	case "cert_obtained":
		renewal, _ := data["renewal"].(bool)
		m.log.Info("certificate obtained", "host", host, "renewal", renewal)
		if renewal {
			m.update(host, func(st *Status) { st.Error, st.Failures, st.NextAttempt = "", 0, time.Time{} })
		}
	case "cert_failed":
		renewal, _ := data["renewal"].(bool)
		err, _ := data["error"].(error)
		m.log.Warn("certificate attempt failed", "host", host, "renewal", renewal, "err", err)
		if renewal && err != nil {
			m.update(host, func(st *Status) {
				st.Error = err.Error()
				st.Failures++
			})
		}
	}
	return nil
}

func (m *Manager) update(host string, f func(*Status)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.status[host]; st != nil {
		f(st)
	}
}

// current returns the newest certificate in memory for host, if any.
// g may be nil.
func (g *generation) current(host string) (certmagic.Certificate, bool) {
	var best certmagic.Certificate
	if g == nil {
		return best, false
	}
	for _, c := range g.cache.AllMatchingCertificates(host) {
		if c.Leaf == nil || !slices.Contains(c.Names, host) {
			continue
		}
		if best.Leaf == nil || c.Leaf.NotAfter.After(best.Leaf.NotAfter) {
			best = c
		}
	}
	return best, best.Leaf != nil
}

// GetCertificate is a tls.Config's: the certificate kept for the
// ClientHello's server name, a TLS-ALPN-01 challenge certificate for an
// ACME validation, or none, which makes the handshake end with the
// unrecognized_name alert (when the tls.Config has no other certificate).
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	g := m.gen.Load()
	if g == nil {
		return nil, nil
	}
	if slices.Contains(hello.SupportedProtos, "acme-tls/1") {
		return g.magic.GetCertificate(hello)
	}
	host := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if !m.Manages(host) {
		return nil, nil
	}
	c, ok := g.current(host)
	if !ok {
		m.log.Debug("no certificate yet; refusing the handshake", "host", host)
		return nil, nil
	}
	return &c.Certificate, nil
}

// Has reports whether a certificate is served for host now.
func (m *Manager) Has(host string) bool {
	g := m.gen.Load()
	if g == nil || !m.Manages(host) {
		return false
	}
	c, ok := g.current(host)
	return ok && time.Now().Before(c.Leaf.NotAfter)
}

// Manages reports whether host is one of the Manager's hosts.
func (m *Manager) Manages(host string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hosts[host] != nil
}

// HandleHTTPChallenge answers an ACME HTTP-01 validation request and
// reports whether r was one.
func (m *Manager) HandleHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	g := m.gen.Load()
	if g == nil {
		return false
	}
	return g.issuer.HandleHTTPChallenge(w, r)
}

// Status returns every host's certificate, sorted by host.
func (m *Manager) Status() []Status {
	g := m.gen.Load()
	m.mu.Lock()
	out := make([]Status, 0, len(m.status))
	for _, st := range m.status {
		out = append(out, *st)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Host, b.Host) })
	now := time.Now()
	for i := range out {
		st := &out[i]
		c, ok := g.current(st.Host)
		switch {
		case ok:
			st.NotBefore, st.NotAfter, st.Issuer = c.Leaf.NotBefore, c.Leaf.NotAfter, c.Leaf.Issuer.CommonName
			st.State = StateValid
			if now.After(c.Leaf.NotAfter) {
				st.State = StateExpired
			}
			st.NextAttempt = time.Time{}
		case st.Failures > 0:
			st.State = StateFailed
		default:
			st.State = StateObtaining
		}
	}
	return out
}
