package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
)

// LB is a standalone load balancer configuration (lb.yaml), the file
// `cutover proxy --config` serves. docs/lb.md documents the format.
type LB struct {
	// Admin is the address of the admin endpoint (metrics, targets,
	// reload). Empty means DefaultAdmin; "off" disables it.
	Admin string
	Proxy proxy.Config
}

// DefaultAdmin is where the admin endpoint listens unless lb.yaml says
// otherwise. Loopback only: it can reload the configuration.
const DefaultAdmin = "127.0.0.1:9180"

// Limits of lb.yaml values, as ALB has them where ALB has them.
const (
	maxWeight              = 999
	maxDeregistrationDelay = 3600 * time.Second
	maxResponseTimeout     = 4000 * time.Second
)

// LoadLB reads and checks an lb.yaml file.
func LoadLB(path string) (*LB, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading load balancer config: %w", err)
	}
	return ParseLB(path, data)
}

// ParseLB parses lb.yaml content; name is used in error messages.
func ParseLB(name string, data []byte) (*LB, error) {
	w := &walker{file: name}
	root := w.parseDocument(data)
	if root == nil {
		return nil, w.err()
	}
	lb := w.lb(root)
	if err := w.err(); err != nil {
		return nil, err
	}
	// The proxy's own check is the last word; lb() should have caught
	// everything it catches, with better positions.
	if err := lb.Proxy.Validate(); err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	return lb, nil
}

func (w *walker) lb(root *yaml.Node) *LB {
	f := w.fields(root, "", "admin", "listeners", "target_groups")
	if f == nil {
		return nil
	}
	lb := &LB{Admin: DefaultAdmin}
	if n := f["admin"]; n != nil {
		lb.Admin = w.str(n, "admin")
		if lb.Admin != "off" {
			w.address(n, "admin", lb.Admin)
		}
	}

	groups := map[string]bool{}
	if n := w.required(f, root, "", "target_groups", "list the target groups (name, targets, health_check, ...)"); n != nil {
		for i, item := range w.list(n, "target_groups") {
			path := index("target_groups", i)
			tg := w.targetGroup(item, path)
			if tg.Name == "" {
				continue
			}
			if groups[tg.Name] {
				w.errorf(item, path+".name", "target group %q is defined twice", tg.Name)
			}
			groups[tg.Name] = true
			lb.Proxy.TargetGroups = append(lb.Proxy.TargetGroups, tg)
		}
	}

	names, addrs := map[string]bool{}, map[string]bool{}
	if n := w.required(f, root, "", "listeners", "list at least one listener (name, address, forward)"); n != nil {
		items := w.list(n, "listeners")
		if len(items) == 0 && n.Kind == yaml.SequenceNode {
			w.errorf(n, "listeners", "is empty; list at least one listener")
		}
		for i, item := range items {
			path := index("listeners", i)
			l := w.listener(item, path, groups)
			if l.Name != "" && names[l.Name] {
				w.errorf(item, path+".name", "listener %q is defined twice", l.Name)
			}
			if l.Address != "" && addrs[l.Address] {
				w.errorf(item, path+".address", "address %q is used by another listener", l.Address)
			}
			names[l.Name], addrs[l.Address] = true, true
			lb.Proxy.Listeners = append(lb.Proxy.Listeners, l)
		}
	}
	return lb
}

func (w *walker) listener(n *yaml.Node, path string, groups map[string]bool) proxy.ListenerConfig {
	var l proxy.ListenerConfig
	f := w.fields(n, path, "name", "address", "tls", "rules", "forward", "fixed_response", "body_timeout", "max_connections", "max_header_size")
	if f == nil {
		return l
	}
	if v := w.required(f, n, path, "name", `give the listener a name, e.g. "production"`); v != nil {
		l.Name = w.name(v, path+".name")
	}
	if v := w.required(f, n, path, "address", `give an address such as ":8080" or "127.0.0.1:8080"`); v != nil {
		l.Address = w.str(v, path+".address")
		w.address(v, path+".address", l.Address)
	}
	if v := f["tls"]; v != nil {
		tf := w.fields(v, path+".tls", "cert", "key")
		if tf != nil {
			l.TLS = &proxy.TLSConfig{}
			if c := w.required(tf, v, path+".tls", "cert", "name the PEM certificate file"); c != nil {
				l.TLS.CertFile = w.str(c, path+".tls.cert")
			}
			if k := w.required(tf, v, path+".tls", "key", "name the PEM private key file"); k != nil {
				l.TLS.KeyFile = w.str(k, path+".tls.key")
			}
		}
	}
	w.listenerLimits(f, path, &l)
	if v := f["rules"]; v != nil {
		priorities := map[int]bool{}
		for i, item := range w.list(v, path+".rules") {
			rp := index(path+".rules", i)
			r := w.rule(item, rp, groups)
			if priorities[r.Priority] {
				w.errorf(item, rp+".priority", "priority %d is used by another rule of this listener", r.Priority)
			}
			priorities[r.Priority] = true
			l.Rules = append(l.Rules, r)
		}
	}
	fixed := f["fixed_response"]
	if fixed != nil {
		l.DefaultFixedResponse = w.fixedResponse(fixed, path+".fixed_response")
	}
	switch v := f["forward"]; {
	case v != nil && fixed != nil:
		w.errorf(v, path+".forward", "and fixed_response are both set; give one of them")
	case v != nil:
		l.Default = w.forward(v, path+".forward", groups)
	case len(l.Rules) == 0 && fixed == nil:
		w.errorf(n, path+".forward", "missing; a listener without rules needs a default forward, e.g. forward: blue, or a fixed_response")
	}
	return l
}

// listenerLimits reads body_timeout ("0s" turns it off),
// max_connections and max_header_size.
func (w *walker) listenerLimits(f map[string]*yaml.Node, path string, l *proxy.ListenerConfig) {
	if v := f["body_timeout"]; v != nil {
		l.BodyTimeout = w.duration(v, path+".body_timeout", 0, proxy.MaxBodyTimeout)
		if l.BodyTimeout == 0 {
			l.BodyTimeout = -1
		}
	}
	if v := f["max_connections"]; v != nil {
		l.MaxConnections = w.integer(v, path+".max_connections", 1, proxy.MaxMaxConnections)
	}
	if v := f["max_header_size"]; v != nil {
		l.MaxHeaderSize = int(w.size(v, path+".max_header_size", proxy.MinMaxHeaderSize, proxy.MaxMaxHeaderSize))
	}
}

func (w *walker) rule(n *yaml.Node, path string, groups map[string]bool) proxy.RuleConfig {
	var r proxy.RuleConfig
	f := w.fields(n, path, "priority", "hosts", "paths", "forward", "fixed_response")
	if f == nil {
		return r
	}
	if v := w.required(f, n, path, "priority", "rules are tried in ascending priority (1-50000)"); v != nil {
		r.Priority = w.integer(v, path+".priority", 1, 50000)
	}
	if v := f["hosts"]; v != nil {
		for i, h := range w.strList(v, path+".hosts") {
			if !validHostPattern(h) {
				w.errorf(v, index(path+".hosts", i), "%q is not a host name; valid: app.example.com or *.example.com", h)
			}
			r.Hosts = append(r.Hosts, h)
		}
	}
	if v := f["paths"]; v != nil {
		for i, p := range w.strList(v, path+".paths") {
			if !strings.HasPrefix(p, "/") {
				w.errorf(v, index(path+".paths", i), "%q must start with /", p)
			}
			r.PathPrefixes = append(r.PathPrefixes, p)
		}
	}
	if len(r.Hosts) == 0 && len(r.PathPrefixes) == 0 {
		w.errorf(n, path, "a rule needs hosts or paths to match on (the listener's forward is the default)")
	}
	if v := f["fixed_response"]; v != nil {
		r.FixedResponse = w.fixedResponse(v, path+".fixed_response")
		if f["forward"] != nil {
			w.errorf(f["forward"], path+".forward", "and fixed_response are both set; give one of them")
		}
		return r
	}
	if v := w.required(f, n, path, "forward", "say where matching requests go, e.g. forward: blue, or give a fixed_response"); v != nil {
		r.Forward = w.forward(v, path+".forward", groups)
	}
	return r
}

// forward reads either a target group name or a list of
// {target_group, weight}.
func (w *walker) forward(n *yaml.Node, path string, groups map[string]bool) proxy.ForwardConfig {
	var fc proxy.ForwardConfig
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		name := w.str(n, path)
		w.groupRef(n, path, name, groups)
		fc.TargetGroups = []proxy.WeightedTargetGroup{{Name: name, Weight: 1}}
		return fc
	}
	seen := map[string]bool{}
	for i, item := range w.list(n, path) {
		ip := index(path, i)
		f := w.fields(item, ip, "target_group", "weight")
		if f == nil {
			continue
		}
		var wt proxy.WeightedTargetGroup
		if v := w.required(f, item, ip, "target_group", "name a target group"); v != nil {
			wt.Name = w.str(v, ip+".target_group")
			w.groupRef(v, ip+".target_group", wt.Name, groups)
			if seen[wt.Name] {
				w.errorf(v, ip+".target_group", "target group %q appears twice in this forward", wt.Name)
			}
			seen[wt.Name] = true
		}
		if v := w.required(f, item, ip, "weight", "give a weight from 0 to 999"); v != nil {
			wt.Weight = w.integer(v, ip+".weight", 0, maxWeight)
		}
		fc.TargetGroups = append(fc.TargetGroups, wt)
	}
	if len(fc.TargetGroups) == 0 && n.Kind == yaml.SequenceNode {
		w.errorf(n, path, "is empty; name at least one target group")
	}
	return fc
}

func (w *walker) groupRef(n *yaml.Node, path, name string, groups map[string]bool) {
	if name != "" && !groups[name] {
		w.errorf(n, path, "no target group named %q; defined: %s", name, strings.Join(sortedKeys(groups), ", "))
	}
}

func (w *walker) targetGroup(n *yaml.Node, path string) proxy.TargetGroupConfig {
	var tg proxy.TargetGroupConfig
	f := w.fields(n, path, append([]string{"name", "targets", "algorithm", "health_check",
		"deregistration_delay", "response_timeout", "outlier", "protocol"}, trafficFields...)...)
	if f == nil {
		return tg
	}
	if v := w.required(f, n, path, "name", `give the target group a name, e.g. "blue"`); v != nil {
		tg.Name = w.name(v, path+".name")
	}
	if v := f["targets"]; v != nil {
		seen := map[string]bool{}
		for i, t := range w.strList(v, path+".targets") {
			tp := index(path+".targets", i)
			if err := checkTarget(t); err != nil {
				w.errorf(v, tp, "%v", err)
			}
			if seen[t] {
				w.errorf(v, tp, "target %q is listed twice", t)
			}
			seen[t] = true
			tg.Targets = append(tg.Targets, t)
		}
	}
	if v := f["algorithm"]; v != nil {
		tg.Algorithm = w.str(v, path+".algorithm")
		if tg.Algorithm != proxy.RoundRobin && tg.Algorithm != proxy.LeastOutstandingRequests {
			w.errorf(v, path+".algorithm", "%q is not an algorithm; valid: %s, %s",
				tg.Algorithm, proxy.RoundRobin, proxy.LeastOutstandingRequests)
		}
	}
	if v := f["deregistration_delay"]; v != nil {
		tg.DeregistrationDelay = w.duration(v, path+".deregistration_delay", 0, maxDeregistrationDelay)
	}
	if v := f["response_timeout"]; v != nil {
		tg.ResponseTimeout = w.duration(v, path+".response_timeout", time.Second, maxResponseTimeout)
	}
	if v := f["outlier"]; v != nil {
		of := w.fields(v, path+".outlier", "consecutive_failures", "ejection")
		if c := of["consecutive_failures"]; c != nil {
			tg.Outlier.ConsecutiveFailures = w.integer(c, path+".outlier.consecutive_failures", -1, 1000)
		}
		if e := of["ejection"]; e != nil {
			tg.Outlier.Ejection = w.duration(e, path+".outlier.ejection", time.Second, time.Hour)
		}
	}
	w.targetGroupTraffic(f, path, &tg)
	if v := f["protocol"]; v != nil {
		tg.Protocol = w.protocol(v, path+".protocol")
	}
	if v := f["health_check"]; v != nil {
		tg.HealthCheck = w.healthCheck(v, path+".health_check", tg.Protocol)
	}
	return tg
}

// healthCheck reads a health_check block of a target group that speaks
// protocol. Ranges are the health package's; its errors are mapped back
// to the lines they concern.
func (w *walker) healthCheck(n *yaml.Node, path, protocol string) health.Config {
	hc := health.Config{Protocol: protocol}
	f := w.fields(n, path, "enabled", "path", "port", "host", "interval", "timeout",
		"healthy_threshold", "unhealthy_threshold", "matcher", "grpc_service")
	if f == nil {
		return hc
	}
	before := len(w.errs)
	// Ranges are checked by hc.Validate below; here values only parse.
	const anyDuration, anyInt = time.Duration(1<<63 - 1), 1<<31 - 1
	if v := f["enabled"]; v != nil {
		hc.Disabled = !w.boolean(v, path+".enabled")
	}
	if v := f["path"]; v != nil {
		hc.Path = w.str(v, path+".path")
	}
	if v := f["port"]; v != nil {
		hc.Port = w.integer(v, path+".port", 1, 65535)
	}
	if v := f["host"]; v != nil {
		hc.Host = w.str(v, path+".host")
	}
	if v := f["interval"]; v != nil {
		hc.Interval = w.duration(v, path+".interval", -anyDuration, anyDuration)
	}
	if v := f["timeout"]; v != nil {
		hc.Timeout = w.duration(v, path+".timeout", -anyDuration, anyDuration)
	}
	if v := f["healthy_threshold"]; v != nil {
		hc.HealthyThreshold = w.integer(v, path+".healthy_threshold", -anyInt, anyInt)
	}
	if v := f["unhealthy_threshold"]; v != nil {
		hc.UnhealthyThreshold = w.integer(v, path+".unhealthy_threshold", -anyInt, anyInt)
	}
	if v := f["matcher"]; v != nil {
		hc.Matcher = w.str(v, path+".matcher")
	}
	if v := f["grpc_service"]; v != nil {
		hc.GRPCService = w.str(v, path+".grpc_service")
	}
	if len(w.errs) > before {
		return hc
	}
	if err := hc.Validate(); err != nil {
		w.healthErrors(n, f, path, err)
	}
	return hc
}

// healthErrors reports health.Config.Validate's errors at the line of the
// field each one names.
func (w *walker) healthErrors(block *yaml.Node, f map[string]*yaml.Node, path string, err error) {
	var errs []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var fe *health.FieldError
		if errors.As(e, &fe) {
			at := f[fe.Field]
			if at == nil {
				at = block
			}
			w.errorf(at, join(path, fe.Field), "%s", fe.Msg)
			continue
		}
		w.errorf(block, path, "%v", e)
	}
}

// name reads an identifier: letters, digits, '-', '_' and '.'.
func (w *walker) name(n *yaml.Node, path string) string {
	s := w.str(n, path)
	if s == "" {
		w.errorf(n, path, "must not be empty")
		return s
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			w.errorf(n, path, "%q may hold only letters, digits, '-', '_' and '.'", s)
			break
		}
	}
	return s
}

// address checks a listen address such as ":8080" or "127.0.0.1:8080".
func (w *walker) address(n *yaml.Node, path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		w.errorf(n, path, "%q is not an address; valid: \":8080\", \"127.0.0.1:8080\" or \"[::1]:8080\"", addr)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		w.errorf(n, path, "port %q is not a number from 0 to 65535", port)
	}
}

// checkTarget checks a target address: a host and a port 1-65535.
func checkTarget(t string) error {
	host, port, err := net.SplitHostPort(t)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not a target; valid: host:port such as 127.0.0.1:3000", t)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has port %q; valid: 1-65535", t, port)
	}
	return nil
}

// validHostPattern accepts a host name, optionally with a leading "*.".
func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return []string{"(none)"}
	}
	return keys
}
