package acme

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// Directory URLs of Let's Encrypt.
const (
	LetsEncrypt        = certmagic.LetsEncryptProductionCA
	LetsEncryptStaging = certmagic.LetsEncryptStagingCA
)

// Defaults of Settings.
const (
	DefaultRenewCheck = 10 * time.Minute
	DefaultRetryMin   = 10 * time.Second
	DefaultRetryMax   = 30 * time.Minute
)

// Settings choose the ACME CA and how often certificates are looked at.
// They are server-wide (`cutover up --acme-*`) and travel with the data
// plane's configuration, so a data plane restarted without a control plane
// keeps them. The zero value is Let's Encrypt, no email.
type Settings struct {
	// CA is the directory URL; "" is Let's Encrypt.
	CA string `json:",omitempty"`
	// Email is given to the CA for the account (expiry notices).
	Email string `json:",omitempty"`
	// CARoots is PEM: certificates trusted for the CA's own HTTPS, besides
	// the system's (a private CA such as Pebble or step-ca).
	CARoots string `json:",omitempty"`
	// RenewCheck is how often certificates are checked for renewal;
	// default 10m. Renewal starts when a third of a certificate's
	// lifetime is left, or in the window the CA suggests (ARI).
	RenewCheck time.Duration `json:",omitempty"`
	// RetryMin and RetryMax bound the wait between two failed attempts to
	// get a certificate; it doubles from RetryMin. Defaults 10s and 30m.
	RetryMin time.Duration `json:",omitempty"`
	RetryMax time.Duration `json:",omitempty"`
	// NoHTTP01 and NoTLSALPN01 turn a challenge type off: HTTP-01 needs
	// port 80 to reach a plain listener, TLS-ALPN-01 port 443 to reach
	// the HTTPS one. Both are on by default.
	NoHTTP01    bool `json:",omitempty"`
	NoTLSALPN01 bool `json:",omitempty"`
}

// WithDefaults fills in the defaults.
func (s Settings) WithDefaults() Settings {
	if s.CA == "" {
		s.CA = LetsEncrypt
	}
	if s.RenewCheck <= 0 {
		s.RenewCheck = DefaultRenewCheck
	}
	if s.RetryMin <= 0 {
		s.RetryMin = DefaultRetryMin
	}
	if s.RetryMax <= 0 {
		s.RetryMax = DefaultRetryMax
	}
	s.RetryMax = max(s.RetryMax, s.RetryMin)
	return s
}

// Validate says what is wrong with s, naming the setting.
func (s Settings) Validate() error {
	var errs []error
	if s.CA != "" {
		u, err := url.Parse(s.CA)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("acme ca: %q is not an ACME directory URL; valid: https://host/path", s.CA))
		}
	}
	if s.Email != "" {
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email {
			errs = append(errs, fmt.Errorf("acme email: %q is not an email address", s.Email))
		}
	}
	if s.NoHTTP01 && s.NoTLSALPN01 {
		errs = append(errs, errors.New("acme challenges: none left; valid: http-01, tls-alpn-01 or both"))
	}
	if s.CARoots != "" {
		if _, err := s.rootPool(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"renew check", s.RenewCheck}, {"retry min", s.RetryMin}, {"retry max", s.RetryMax}} {
		if d.v < 0 || d.v > 24*time.Hour {
			errs = append(errs, fmt.Errorf("acme %s: %s is out of range; valid: 0s (default) to 24h", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// rootPool is the system's roots plus CARoots.
func (s Settings) rootPool() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if s.CARoots != "" && !pool.AppendCertsFromPEM([]byte(s.CARoots)) {
		return nil, errors.New("acme ca root: no PEM certificate in it")
	}
	return pool, nil
}

// ValidHost says why h cannot get a certificate by HTTP-01 or TLS-ALPN-01:
// it must be a DNS name, not an IP address and not a wildcard (wildcards
// need DNS-01, which needs the DNS provider's API).
func ValidHost(h string) error {
	switch {
	case strings.HasPrefix(h, "*."):
		return fmt.Errorf("%q: a wildcard needs the DNS-01 challenge, which cutover does not do; list the names, or use a certificate file", h)
	case net.ParseIP(strings.Trim(h, "[]")) != nil:
		return fmt.Errorf("%q: an IP address gets no certificate by tls: auto; use a host name", h)
	case h != strings.ToLower(h) || !isDNSName(h):
		return fmt.Errorf("%q is not a host name; valid: lowercase labels of letters, digits and '-', e.g. app.example.com", h)
	}
	return nil
}

func isDNSName(h string) bool {
	if len(h) == 0 || len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
