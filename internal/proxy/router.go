package proxy

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

// routeTable is one listener's rules, immutable once built. Apply builds a
// new table and swaps it in atomically.
type routeTable struct {
	listener string  // the listener's name, for metrics
	rules    []rule  // ascending priority
	def      *action // nil: 503
}

type rule struct {
	hosts    []hostMatcher // empty: any host
	prefixes []string      // empty: any path
	act      *action
}

// hostMatcher matches an exact host name or, with wildcard set, any name
// with one or more labels before suffix (".example.com"). Both are lower
// case.
type hostMatcher struct {
	name     string
	wildcard bool
}

// buildRoutes turns a validated ListenerConfig into a routeTable over the
// given groups.
func buildRoutes(lc ListenerConfig, groups map[string]*targetGroup) *routeTable {
	rt := &routeTable{listener: lc.Name, def: buildAction(lc.Default, lc.DefaultFixedResponse, groups)}
	rules := slices.Clone(lc.Rules)
	slices.SortStableFunc(rules, func(a, b RuleConfig) int { return cmp.Compare(a.Priority, b.Priority) })
	for _, rc := range rules {
		r := rule{prefixes: rc.PathPrefixes, act: buildAction(rc.Forward, rc.FixedResponse, groups)}
		for _, h := range rc.Hosts {
			h = strings.ToLower(h)
			if suffix, ok := strings.CutPrefix(h, "*"); ok {
				r.hosts = append(r.hosts, hostMatcher{name: suffix, wildcard: true})
			} else {
				r.hosts = append(r.hosts, hostMatcher{name: h})
			}
		}
		rt.rules = append(rt.rules, r)
	}
	return rt
}

// buildAction returns the fixed response fr when it is set, else the
// forward action fc; nil when neither would answer.
func buildAction(fc ForwardConfig, fr *FixedResponseConfig, groups map[string]*targetGroup) *action {
	if fr != nil {
		return &action{fixed: newFixedResponse(fr)}
	}
	a := &action{}
	for _, wg := range fc.TargetGroups {
		if wg.Weight > 0 {
			g := groups[wg.Name]
			a.groups = append(a.groups, weightedGroup{group: g, weight: wg.Weight})
			a.total += wg.Weight
			a.sticky = a.sticky || g.settings.Load().sticky.Type != ""
		}
	}
	if a.total == 0 {
		return nil
	}
	return a
}

// match returns the action for r, nil when nothing matches and there is
// no default.
func (rt *routeTable) match(r *http.Request) *action {
	if len(rt.rules) == 0 {
		return rt.def
	}
	host := hostOnly(r.Host)
	for i := range rt.rules {
		rl := &rt.rules[i]
		if rl.matchHost(host) && rl.matchPath(r.URL.Path) {
			return rl.act
		}
	}
	return rt.def
}

func (rl *rule) matchHost(host string) bool {
	if len(rl.hosts) == 0 {
		return true
	}
	for _, h := range rl.hosts {
		if h.wildcard {
			if len(host) > len(h.name) && strings.EqualFold(host[len(host)-len(h.name):], h.name) {
				return true
			}
		} else if strings.EqualFold(host, h.name) {
			return true
		}
	}
	return false
}

// matchPath matches whole path segments: "/api" matches "/api" and
// "/api/x", not "/apix".
func (rl *rule) matchPath(path string) bool {
	if len(rl.prefixes) == 0 {
		return true
	}
	for _, p := range rl.prefixes {
		if !strings.HasPrefix(path, p) {
			continue
		}
		if len(path) == len(p) || p[len(p)-1] == '/' || path[len(p)] == '/' {
			return true
		}
	}
	return false
}

// hostOnly strips the port and a trailing dot from a Host header.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(h, ".")
}
