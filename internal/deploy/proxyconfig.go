package deploy

import (
	"maps"
	"slices"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

// buildProxyConfig is the whole data plane for all apps: per app the
// target groups "<app>-blue" and "<app>-green" with their registered
// tasks, a production listener forwarding to both by weight, and a test
// listener forwarding to one. Listeners are named by their address, so
// apps that share an address with host rules share a listener. It is
// called with Controller.mu held, after every change.
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
		l.Rules = append(l.Rules, proxy.RuleConfig{Priority: len(l.Rules) + 1, Hosts: hosts, Forward: fwd})
	}

	for _, name := range slices.Sorted(maps.Keys(apps)) {
		a := apps[name]
		for _, color := range []string{colorBlue, colorGreen} {
			cfg.TargetGroups = append(cfg.TargetGroups, a.targetGroup(color))
		}
		l := a.cfg.Listeners
		if l.Production != "" {
			route(l.Production, l.Hosts, proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{
				{Name: groupName(name, colorBlue), Weight: a.prod[colorBlue]},
				{Name: groupName(name, colorGreen), Weight: a.prod[colorGreen]},
			}})
			maintain(listener(l.Production), name, a.maintenance)
		}
		if l.Test != "" {
			route(l.Test, l.Hosts, proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{
				{Name: groupName(name, a.test), Weight: 1},
			}})
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(listeners)) {
		cfg.Listeners = append(cfg.Listeners, *listeners[addr])
	}
	addHTTPS(&cfg, apps)
	return cfg
}

// targetGroup is the app's target group of one color. Its health check
// is that of the newest revision running in it.
func (a *appState) targetGroup(color string) proxy.TargetGroupConfig {
	tg := proxy.TargetGroupConfig{
		Name:                groupName(a.name, color),
		HealthCheck:         a.cfg.Health,
		DeregistrationDelay: deregistrationDelay(a.cfg.Deploy.DeregistrationDelay),
	}
	newest := 0
	for _, s := range a.sets {
		if s.color != color {
			continue
		}
		if s.rev.Number > newest {
			newest, tg.HealthCheck = s.rev.Number, s.cfg.Health
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
