package deploy

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

// buildProxyConfig is the whole data plane for all apps: per app the
// target groups "<app>-blue" and "<app>-green" with their registered
// tasks, a production listener forwarding to both by weight, and a test
// listener forwarding to one. Listeners are named by their address, so
// apps that share an address with host rules share a listener; an app
// without hosts is its listener's default action. Exact host names are
// tried before wildcards, longer wildcards before shorter ones, as a
// request for api.example.com must reach the app that names it whichever
// app claims *.example.com. It is called with Controller.mu held, after
// every change.
func buildProxyConfig(apps map[string]*appState) proxy.Config {
	var cfg proxy.Config
	listeners := map[string]*proxy.ListenerConfig{}
	listener := func(addr string) *proxy.ListenerConfig {
		l := listeners[addr]
		if l == nil {
			l = &proxy.ListenerConfig{Name: addr, Address: addr}
			listeners[addr] = l
		}
		return l
	}
	route := func(addr string, hosts []string, fwd proxy.ForwardConfig) {
		l := listener(addr)
		if len(hosts) == 0 {
			l.Default = fwd
			return
		}
		exact, wild := splitHosts(hosts)
		for _, hs := range [][]string{exact, wild} {
			if len(hs) > 0 {
				l.Rules = append(l.Rules, proxy.RuleConfig{Hosts: hs, Forward: fwd})
			}
		}
	}

	users := appsPerAddress(apps)
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		a := apps[name]
		for _, color := range []string{colorBlue, colorGreen} {
			cfg.TargetGroups = append(cfg.TargetGroups, a.targetGroup(color))
		}
		if addr := a.routed.Production; addr != "" {
			l := listener(addr) // apps sharing it get the largest header cap
			l.MaxHeaderSize = max(l.MaxHeaderSize, a.cfg.Listeners.MaxHeaderSize)
			route(addr, a.routed.Hosts, proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{
				{Name: groupName(name, colorBlue), Weight: a.prod[colorBlue]},
				{Name: groupName(name, colorGreen), Weight: a.prod[colorGreen]},
			}})
			maintain(listener(addr), name, a.maintenance)
		}
		if addr := a.cfg.Listeners.Test; addr != "" {
			hosts := a.cfg.Listeners.Hosts
			if users[addr] == 1 {
				// A test listener of its own needs no host rule, and the
				// hooks' CUTOVER_TEST_URL reaches it without a Host.
				hosts = nil
			}
			route(addr, hosts, proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{
				{Name: groupName(name, a.test), Weight: 1},
			}})
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(listeners)) {
		l := listeners[addr]
		orderRules(l)
		cfg.Listeners = append(cfg.Listeners, *l)
	}
	addHTTPS(&cfg, apps)
	return cfg
}

// appsPerAddress counts the apps routed on each listener address.
func appsPerAddress(apps map[string]*appState) map[string]int {
	users := map[string]int{}
	for _, a := range apps {
		for _, addr := range []string{a.routed.Production, a.cfg.Listeners.Test} {
			users[addr]++
		}
	}
	return users
}

// orderRules gives l's host rules their priorities: exact names first,
// then wildcards, longest first (hostRank); rules of equal rank keep
// their order.
func orderRules(l *proxy.ListenerConfig) {
	rank := func(r proxy.RuleConfig) int {
		if len(r.Hosts) == 0 {
			return 0 // no host condition: after every host rule
		}
		return hostRank(r.Hosts[0])
	}
	slices.SortStableFunc(l.Rules, func(x, y proxy.RuleConfig) int {
		return cmp.Compare(rank(y), rank(x))
	})
	for i := range l.Rules {
		l.Rules[i].Priority = i + 1
	}
}

// splitHosts separates exact host names from wildcards.
func splitHosts(hosts []string) (exact, wild []string) {
	for _, h := range hosts {
		if strings.HasPrefix(h, "*") {
			wild = append(wild, h)
		} else {
			exact = append(exact, h)
		}
	}
	return exact, wild
}

// hostRank orders host rules: any exact name first, then wildcards by
// the length of what they must end with, longest first.
func hostRank(h string) int {
	if suffix, ok := strings.CutPrefix(h, "*"); ok {
		return len(suffix)
	}
	return math.MaxInt
}

// targetGroup is the app's target group of one color. Its health check
// is that of the newest revision running in it.
func (a *appState) targetGroup(color string) proxy.TargetGroupConfig {
	tg := proxy.TargetGroupConfig{
		Name:                groupName(a.name, color),
		HealthCheck:         a.cfg.Health,
		Protocol:            a.cfg.Service.Protocol,
		DeregistrationDelay: deregistrationDelay(a.cfg.Deploy.DeregistrationDelay),
		// Slow start, stickiness and limits: docs/cutover-yaml.md.
		SlowStart:               a.cfg.Deploy.SlowStart,
		Stickiness:              a.cfg.Deploy.Stickiness,
		MaxBodySize:             a.cfg.Service.MaxBodySize,
		MaxConnectionsPerTarget: a.cfg.Service.MaxConnectionsPerTask,
	}
	newest := 0
	for _, s := range a.sets {
		if s.color != color {
			continue
		}
		if s.rev.Number > newest {
			newest, tg.HealthCheck, tg.Protocol = s.rev.Number, s.cfg.Health, s.cfg.Service.Protocol
		}
		for _, t := range s.tasks {
			if !t.registered() {
				continue
			}
			tg.Targets = append(tg.Targets, t.addr)
			if t.assumeHealthy {
				tg.AssumeHealthy = append(tg.AssumeHealthy, t.addr)
			}
		}
	}
	return tg
}

// deregistrationDelay maps cutover.yaml's delay (0 = none) to the
// proxy's (0 = default, negative = none).
func deregistrationDelay(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
