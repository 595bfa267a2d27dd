package deploy

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
)

// addHTTPS gives the production listener of each app with tls: auto its
// ACME hosts and HSTS, and adds the app's plain listener (listeners.http):
// the same rules as on the production listener, so the app is served on
// HTTP until its certificate is there, and a redirect to HTTPS that takes
// over once it is. Apps share both listeners by host, as they do the
// production one.
func addHTTPS(cfg *proxy.Config, apps map[string]*appState) {
	byName := map[string]*proxy.ListenerConfig{}
	for i := range cfg.Listeners {
		byName[cfg.Listeners[i].Name] = &cfg.Listeners[i]
	}
	plain := map[string]*proxy.ListenerConfig{}
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		l := apps[name].routed
		prod := byName[l.Production]
		if l.TLS != config.TLSAuto || prod == nil {
			continue
		}
		if prod.TLS == nil {
			prod.TLS = &proxy.TLSConfig{}
		}
		prod.TLS.ACMEHosts = append(prod.TLS.ACMEHosts, l.Hosts...)
		if l.HSTS > 0 {
			prod.TLS.HSTS = append(prod.TLS.HSTS, proxy.HSTSConfig{Hosts: l.Hosts, MaxAge: l.HSTS})
		}
		if l.HTTP == "" || byName[l.HTTP] != nil {
			continue // an address another app serves plain: not shared
		}
		pl := plain[l.HTTP]
		if pl == nil {
			pl = &proxy.ListenerConfig{Name: l.HTTP, Address: l.HTTP}
			plain[l.HTTP] = pl
		}
		for _, r := range prod.Rules {
			if slices.ContainsFunc(r.Hosts, func(h string) bool { return slices.Contains(l.Hosts, h) }) {
				r.Priority = len(pl.Rules) + 1
				pl.Rules = append(pl.Rules, r)
			}
		}
		pl.HTTPSRedirects = append(pl.HTTPSRedirects, proxy.HTTPSRedirect{Hosts: l.Hosts, Port: listenerPort(l.Production)})
	}
	for _, addr := range slices.Sorted(maps.Keys(plain)) {
		orderRules(plain[addr])
		cfg.Listeners = append(cfg.Listeners, *plain[addr])
	}
}

func listenerPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// schemeConflict says why app and other cannot share an address: it
// would be HTTPS (a production listener with tls: auto) for one and
// plain HTTP (any other listener) for the other. The error names both.
func schemeConflict(app, other config.App) error {
	theirs := schemes(other.Listeners)
	for addr, https := range schemes(app.Listeners) {
		if t, ok := theirs[addr]; ok && t != https {
			mine, their := "plain HTTP", "HTTPS (tls: auto)"
			if https {
				mine, their = their, mine
			}
			return fmt.Errorf("listener %s would be %s for app %s but is %s for app %s; give it the same listeners.tls, or use another address", addr, mine, app.Name, their, other.Name)
		}
	}
	return nil
}

// schemes maps each listener address of l to whether it is HTTPS.
func schemes(l config.Listeners) map[string]bool {
	out := map[string]bool{}
	for _, addr := range []string{l.Test, l.HTTP} {
		if addr != "" {
			out[addr] = false
		}
	}
	if l.Production != "" {
		out[l.Production] = l.TLS == config.TLSAuto
	}
	return out
}
