package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/acme"
)

// TLSAuto is listeners.tls's value for certificates from the ACME CA.
const TLSAuto = "auto"

// DefaultHSTS is the max-age of `hsts: true`: one year.
const DefaultHSTS = 365 * 24 * time.Hour

// MaxHSTS is the longest hsts accepted: two years.
const MaxHSTS = 2 * DefaultHSTS

// https reads listeners.tls, listeners.http and listeners.hsts: automatic
// HTTPS for the app's hosts on its production listener.
func (w *walker) https(f map[string]*yaml.Node, l *Listeners) {
	v := f["tls"]
	if v != nil {
		l.TLS = w.str(v, "listeners.tls")
		if l.TLS != TLSAuto {
			w.errorf(v, "listeners.tls", "%q is not valid; valid: auto (certificates from the ACME CA for listeners.hosts); certificate files are for lb.yaml", l.TLS)
		}
		if len(l.Hosts) == 0 {
			w.errorf(v, "listeners.tls", "auto needs listeners.hosts: the names to get certificates for")
		}
		for i, h := range l.Hosts {
			if err := acme.ValidHost(h); err != nil {
				w.errorf(f["hosts"], index("listeners.hosts", i), "with tls: auto: %v", err)
			}
		}
	}
	if n := f["http"]; n != nil {
		l.HTTP = w.str(n, "listeners.http")
		w.address(n, "listeners.http", l.HTTP)
		if v == nil {
			w.errorf(n, "listeners.http", "needs tls: auto (it redirects to HTTPS)")
		}
		if l.HTTP == l.Production || l.HTTP == l.Test {
			w.errorf(n, "listeners.http", "must differ from the production and test listeners")
		}
	}
	if n := f["hsts"]; n != nil {
		if v == nil {
			w.errorf(n, "listeners.hsts", "needs tls: auto")
		}
		var on bool
		if resolve(n).Decode(&on) == nil {
			if on {
				l.HSTS = DefaultHSTS
			}
			return
		}
		l.HSTS = w.duration(n, "listeners.hsts", time.Second, MaxHSTS)
	}
}
