package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/acme"
)

// Automatic HTTPS: a TLS listener with TLSConfig.ACMEHosts gets its
// certificates from the ACME CA through package acme; every plain
// listener answers the CA's HTTP-01 validations, and a TLS listener its
// TLS-ALPN-01 ones; a plain listener's HTTPSRedirects send a host to
// HTTPS once, and only once, a certificate for it is served, so an app
// keeps answering on HTTP while its certificate cannot be had.

// HTTPSRedirect answers requests for Hosts on a plain listener with 308
// to https://host[:Port]/path, as ALB's redirect action does, once a
// certificate for the host is served (a host of a file-certificate
// listener is always redirected). ACME HTTP-01 validations are answered,
// not redirected.
type HTTPSRedirect struct {
	Hosts []string // exact names or wildcards, as RuleConfig.Hosts
	Port  int      // the HTTPS listener's port; 443 is left out of the URL
}

// HSTSConfig sends Strict-Transport-Security: max-age=MaxAge on the
// HTTPS responses for Hosts (empty: every host).
type HSTSConfig struct {
	Hosts  []string
	MaxAge time.Duration // at least 1s
}

// MaxHSTS is the longest HSTS max-age accepted: two years.
const MaxHSTS = 2 * 365 * 24 * time.Hour

// acmeChallengeProto is the ALPN protocol of TLS-ALPN-01 (RFC 8737).
const acmeChallengeProto = "acme-tls/1"

// validateAutoTLS checks l's automatic HTTPS settings.
func validateAutoTLS(where string, l ListenerConfig) []error {
	var errs []error
	if l.TLS != nil {
		if len(l.TLS.ACMEHosts) > 0 && (l.TLS.CertFile != "" || l.TLS.KeyFile != "") {
			errs = append(errs, fmt.Errorf("%s: tls: certificate files and ACME hosts are both set; valid: one of them", where))
		}
		for _, h := range l.TLS.ACMEHosts {
			if err := acme.ValidHost(h); err != nil {
				errs = append(errs, fmt.Errorf("%s: tls: acme host %w", where, err))
			}
		}
		for _, h := range l.TLS.HSTS {
			if h.MaxAge < time.Second || h.MaxAge > MaxHSTS {
				errs = append(errs, fmt.Errorf("%s: tls: hsts: %s is out of range; valid: 1s-%s", where, h.MaxAge, MaxHSTS))
			}
		}
	}
	for _, r := range l.HTTPSRedirects {
		if l.TLS != nil {
			errs = append(errs, fmt.Errorf("%s: https redirect: the listener is HTTPS already", where))
		}
		if r.Port < 1 || r.Port > 65535 {
			errs = append(errs, fmt.Errorf("%s: https redirect: port %d is out of range; valid: 1-65535", where, r.Port))
		}
	}
	return errs
}

// checkACME refuses ACME hosts when the proxy has nowhere to keep
// certificates.
func (p *Proxy) checkACME(cfg Config) error {
	if p.acme != nil {
		return nil
	}
	for _, lc := range cfg.Listeners {
		if lc.TLS != nil && len(lc.TLS.ACMEHosts) > 0 {
			return fmt.Errorf("listener %s: tls: acme hosts: this load balancer has no directory to keep certificates in", lc.Name)
		}
	}
	return nil
}

// applyACME gives the certificate manager the hosts of cfg's tls: auto
// listeners. Called with a validated cfg.
func (p *Proxy) applyACME(cfg Config) error {
	var hosts []string
	var ports acme.Ports
	for _, lc := range cfg.Listeners {
		switch {
		case lc.TLS != nil && len(lc.TLS.ACMEHosts) > 0:
			for _, h := range lc.TLS.ACMEHosts {
				if !slices.Contains(hosts, h) {
					hosts = append(hosts, h)
				}
			}
			if ports.TLS == 0 {
				ports.TLS = port(lc.Address)
			}
		case lc.TLS == nil && (ports.HTTP == 0 || len(lc.HTTPSRedirects) > 0):
			ports.HTTP = port(lc.Address)
		}
	}
	if p.acme == nil {
		return nil // checkACME refused hosts
	}
	return p.acme.Set(cfg.ACME, ports, hosts)
}

func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Certificates returns the state of every ACME host's certificate.
func (p *Proxy) Certificates() []acme.Status {
	if p.acme == nil {
		return nil
	}
	return p.acme.Status()
}

// frontPolicy is a listener's automatic HTTPS settings, immutable once
// built; Apply swaps in a new one.
type frontPolicy struct {
	auto      bool // certificates from the ACME CA
	redirects []redirectRule
	hsts      []hstsRule
}

type redirectRule struct {
	hosts []hostMatcher
	port  int
}

type hstsRule struct {
	hosts  []hostMatcher
	header string
}

func buildFront(lc ListenerConfig) *frontPolicy {
	fp := &frontPolicy{}
	for _, r := range lc.HTTPSRedirects {
		fp.redirects = append(fp.redirects, redirectRule{hosts: hostMatchers(r.Hosts), port: r.Port})
	}
	if lc.TLS != nil {
		fp.auto = len(lc.TLS.ACMEHosts) > 0
		for _, h := range lc.TLS.HSTS {
			fp.hsts = append(fp.hsts, hstsRule{
				hosts:  hostMatchers(h.Hosts),
				header: "max-age=" + strconv.FormatInt(int64(h.MaxAge/time.Second), 10),
			})
		}
	}
	return fp
}

func hostMatchers(hosts []string) []hostMatcher {
	var out []hostMatcher
	for _, h := range hosts {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			out = append(out, hostMatcher{name: suffix, wildcard: true})
		} else {
			out = append(out, hostMatcher{name: h})
		}
	}
	return out
}

// front answers what the load balancer itself answers before routing:
// ACME HTTP-01 validations and HTTPS redirects on a plain listener; on an
// HTTPS one it adds HSTS. It reports whether r was answered.
func (l *listener) front(w http.ResponseWriter, r *http.Request) bool {
	fp := l.policy.Load()
	if l.tls {
		host := hostOnly(r.Host)
		for _, h := range fp.hsts {
			if (&rule{hosts: h.hosts}).matchHost(host) {
				w.Header().Set("Strict-Transport-Security", h.header)
				break
			}
		}
		return false
	}
	if l.acme != nil && l.acme.HandleHTTPChallenge(w, r) {
		return true
	}
	if len(fp.redirects) == 0 {
		return false
	}
	host := strings.ToLower(hostOnly(r.Host))
	if !plainHostName(host) {
		return false // not a name to put in a Location
	}
	for _, rd := range fp.redirects {
		if !(&rule{hosts: rd.hosts}).matchHost(host) {
			continue
		}
		if l.acme != nil && l.acme.Manages(host) && !l.acme.Has(host) {
			return false // no certificate yet: keep serving on HTTP
		}
		target := "https://" + host
		if rd.port != 443 {
			target += ":" + strconv.Itoa(rd.port)
		}
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusPermanentRedirect)
		return true
	}
	return false
}

// plainHostName reports whether h has only the characters of a DNS
// name, so that a redirect cannot carry anything else a Host header may.
func plainHostName(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// getCertificate serves the file certificate, or the ACME one of the
// ClientHello's name on a tls: auto listener.
func (l *listener) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if l.policy.Load().auto {
		if l.acme == nil {
			return nil, nil
		}
		return l.acme.GetCertificate(hello)
	}
	return l.cert.Load(), nil
}
