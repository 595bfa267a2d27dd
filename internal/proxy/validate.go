package proxy

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults and ranges of TargetGroupConfig, as ALB has them.
const (
	DefaultDeregistrationDelay = 300 * time.Second
	MaxDeregistrationDelay     = 3600 * time.Second
	DefaultResponseTimeout     = 60 * time.Second
	MaxResponseTimeout         = 3600 * time.Second
	DefaultConsecutiveFailures = 5
	DefaultEjection            = 30 * time.Second
	MaxWeight                  = 999
	MinPriority                = 1
	MaxPriority                = 50000
	MinSlowStart               = 30 * time.Second
	MaxSlowStart               = 900 * time.Second
	DefaultStickinessDuration  = 24 * time.Hour
	MaxStickinessDuration      = 7 * 24 * time.Hour
)

// Defaults and ranges of ListenerConfig.
const (
	DefaultBodyTimeout    = 60 * time.Second
	MaxBodyTimeout        = 3600 * time.Second
	DefaultMaxConnections = 10000
	MaxMaxConnections     = 1000000
	DefaultMaxHeaderSize  = 64 << 10
	MinMaxHeaderSize      = 1 << 10
	MaxMaxHeaderSize      = 1 << 20
)

// WithDefaults returns c with zero fields of its listeners and target
// groups set to their defaults. A negative DeregistrationDelay or
// BodyTimeout means none; a negative Outlier.ConsecutiveFailures turns
// outlier detection off.
func (c Config) WithDefaults() Config {
	c.Listeners = slices.Clone(c.Listeners)
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.BodyTimeout == 0 {
			l.BodyTimeout = DefaultBodyTimeout
		}
		if l.MaxConnections == 0 {
			l.MaxConnections = DefaultMaxConnections
		}
		if l.MaxHeaderSize == 0 {
			l.MaxHeaderSize = DefaultMaxHeaderSize
		}
	}
	c.TargetGroups = slices.Clone(c.TargetGroups)
	for i := range c.TargetGroups {
		tg := &c.TargetGroups[i]
		if tg.Algorithm == "" {
			tg.Algorithm = RoundRobin
		}
		if tg.Protocol == "" {
			tg.Protocol = ProtocolHTTP1
		}
		tg.HealthCheck.Protocol = tg.Protocol // checks speak the group's protocol
		tg.HealthCheck = tg.HealthCheck.WithDefaults()
		if tg.DeregistrationDelay == 0 {
			tg.DeregistrationDelay = DefaultDeregistrationDelay
		}
		if tg.ResponseTimeout == 0 {
			tg.ResponseTimeout = DefaultResponseTimeout
		}
		if tg.Outlier.ConsecutiveFailures == 0 {
			tg.Outlier.ConsecutiveFailures = DefaultConsecutiveFailures
		}
		if tg.Outlier.Ejection == 0 {
			tg.Outlier.Ejection = DefaultEjection
		}
		if tg.Stickiness.Type != "" && tg.Stickiness.Duration == 0 {
			tg.Stickiness.Duration = DefaultStickinessDuration
		}
	}
	return c
}

// Validate checks c after applying defaults. It returns nil or the
// errors.Join of one error per problem, each naming the listener, rule or
// target group, the field, and what is valid.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var ps problems
	groups := make(map[string]bool, len(c.TargetGroups))
	for i, tg := range c.TargetGroups {
		where := fmt.Sprintf("target group %q", tg.Name)
		switch {
		case tg.Name == "":
			ps.add("target group %d: name: empty; valid: a unique name", i+1)
		case groups[tg.Name]:
			ps.add("%s: name: used twice; target group names must be unique", where)
		}
		groups[tg.Name] = true
		ps.checkTargetGroup(where, tg)
	}

	if len(c.Listeners) == 0 {
		ps.add("listeners: none; at least one listener is needed")
	}
	names := make(map[string]bool)
	addrs := make(map[string]string)
	for i, l := range c.Listeners {
		where := fmt.Sprintf("listener %q", l.Name)
		switch {
		case l.Name == "":
			ps.add("listener %d: name: empty; valid: a unique name such as \"production\"", i+1)
		case names[l.Name]:
			ps.add("%s: name: used twice; listener names must be unique", where)
		}
		names[l.Name] = true
		if err := checkHostPort(l.Address, true); err != nil {
			ps.add("%s: address %q: %v", where, l.Address, err)
		} else if other, ok := addrs[l.Address]; ok && !strings.HasSuffix(l.Address, ":0") {
			ps.add("%s: address %q: also used by listener %q", where, l.Address, other)
		}
		addrs[l.Address] = l.Name
		ps.checkListener(where, l, groups)
	}
	if err := c.ACME.Validate(); err != nil {
		ps = append(ps, err)
	}
	return errors.Join(ps...)
}

// problems collects what Validate finds wrong, in the order found.
type problems []error

func (ps *problems) add(format string, args ...any) {
	*ps = append(*ps, fmt.Errorf(format, args...))
}

// checkTargetGroup checks a target group's fields but its name.
func (ps *problems) checkTargetGroup(where string, tg TargetGroupConfig) {
	seen := make(map[string]bool, len(tg.Targets))
	for _, t := range tg.Targets {
		if err := checkHostPort(t, false); err != nil {
			ps.add("%s: target %q: %v", where, t, err)
		} else if seen[t] {
			ps.add("%s: target %q: listed twice", where, t)
		}
		seen[t] = true
	}
	for _, t := range tg.AssumeHealthy {
		if !seen[t] {
			ps.add("%s: assume_healthy: %q is not one of the group's targets", where, t)
		}
	}
	if tg.Algorithm != RoundRobin && tg.Algorithm != LeastOutstandingRequests {
		ps.add("%s: algorithm: %q is invalid; valid: %q, %q", where, tg.Algorithm, RoundRobin, LeastOutstandingRequests)
	}
	if !slices.Contains(Protocols, tg.Protocol) {
		ps.add("%s: protocol: %q is invalid; valid: %s", where, tg.Protocol, strings.Join(Protocols, ", "))
	}
	if err := tg.HealthCheck.Validate(); err != nil {
		for _, e := range unjoin(err) {
			ps.add("%s: health_check: %v", where, e)
		}
	}
	if tg.DeregistrationDelay > MaxDeregistrationDelay {
		ps.add("%s: deregistration_delay: %s is out of range; valid: 0-%s (negative for none)", where, tg.DeregistrationDelay, MaxDeregistrationDelay)
	}
	if tg.ResponseTimeout < 0 || tg.ResponseTimeout > MaxResponseTimeout {
		ps.add("%s: response_timeout: %s is out of range; valid: 1ms-%s", where, tg.ResponseTimeout, MaxResponseTimeout)
	}
	if tg.Outlier.Ejection < 0 {
		ps.add("%s: outlier.ejection: %s is negative", where, tg.Outlier.Ejection)
	}
	*ps = append(*ps, checkTraffic(where, tg)...)
}

// checkListener checks a listener's fields but its name and address;
// groups are the target groups that exist.
func (ps *problems) checkListener(where string, l ListenerConfig, groups map[string]bool) {
	if l.TLS != nil && len(l.TLS.ACMEHosts) == 0 && (l.TLS.CertFile == "" || l.TLS.KeyFile == "") {
		ps.add("%s: tls: cert_file and key_file are both required", where)
	}
	*ps = append(*ps, validateAutoTLS(where, l)...)
	if l.BodyTimeout > MaxBodyTimeout {
		ps.add("%s: body_timeout: %s is out of range; valid: 1ms-%s (negative for none)", where, l.BodyTimeout, MaxBodyTimeout)
	}
	if l.MaxConnections < 1 || l.MaxConnections > MaxMaxConnections {
		ps.add("%s: max_connections: %d is out of range; valid: 1-%d", where, l.MaxConnections, MaxMaxConnections)
	}
	if l.MaxHeaderSize < MinMaxHeaderSize || l.MaxHeaderSize > MaxMaxHeaderSize {
		ps.add("%s: max_header_size: %d is out of range; valid: %d-%d bytes", where, l.MaxHeaderSize, MinMaxHeaderSize, MaxMaxHeaderSize)
	}
	priorities := make(map[int]bool)
	for j, r := range l.Rules {
		rwhere := fmt.Sprintf("%s: rule %d (priority %d)", where, j+1, r.Priority)
		if r.Priority < MinPriority || r.Priority > MaxPriority {
			ps.add("%s: priority: out of range; valid: %d-%d", rwhere, MinPriority, MaxPriority)
		} else if priorities[r.Priority] {
			ps.add("%s: priority: used twice in this listener; priorities must be unique", rwhere)
		}
		priorities[r.Priority] = true
		ps.checkRule(rwhere, r, groups)
	}
	if f := l.DefaultFixedResponse; f != nil {
		if len(l.Default.TargetGroups) > 0 {
			ps.add("%s: default: forward and fixed_response are both set; valid: one of them", where)
		}
		checkFixed(ps.add, where+": default", f)
	}
	checkForward(ps.add, where+": default", l.Default, groups)
}

// checkRule checks a rule's conditions and its action, but its priority.
func (ps *problems) checkRule(where string, r RuleConfig, groups map[string]bool) {
	for _, h := range r.Hosts {
		if err := checkHostPattern(h); err != nil {
			ps.add("%s: host %q: %v", where, h, err)
		}
	}
	for _, p := range r.PathPrefixes {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#") {
			ps.add("%s: path prefix %q: valid: a path starting with \"/\", without spaces, \"?\" or \"#\"", where, p)
		}
	}
	switch {
	case r.FixedResponse != nil && len(r.Forward.TargetGroups) > 0:
		ps.add("%s: forward and fixed_response are both set; valid: one of them", where)
	case r.FixedResponse != nil:
		checkFixed(ps.add, where, r.FixedResponse)
	case len(r.Forward.TargetGroups) == 0:
		ps.add("%s: forward: no target group; valid: one or more, or a fixed_response", where)
	}
	checkForward(ps.add, where, r.Forward, groups)
}

func checkForward(add func(string, ...any), where string, fc ForwardConfig, groups map[string]bool) {
	seen := make(map[string]bool)
	for _, wg := range fc.TargetGroups {
		if !groups[wg.Name] {
			add("%s: forward: target group %q does not exist", where, wg.Name)
		}
		if seen[wg.Name] {
			add("%s: forward: target group %q listed twice", where, wg.Name)
		}
		seen[wg.Name] = true
		if wg.Weight < 0 || wg.Weight > MaxWeight {
			add("%s: forward: target group %q: weight %d is out of range; valid: 0-%d", where, wg.Name, wg.Weight, MaxWeight)
		}
	}
}

// checkHostPort checks a "host:port" address; a listener may use port 0
// and an empty host.
func checkHostPort(s string, listener bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("valid: host:port, e.g. \"127.0.0.1:8080\"")
	}
	if host == "" && !listener {
		return errors.New("host is empty; valid: host:port, e.g. \"127.0.0.1:8080\"")
	}
	n, err := strconv.Atoi(port)
	lo := 1
	if listener {
		lo = 0
	}
	if err != nil || n < lo || n > 65535 {
		return fmt.Errorf("port %q is invalid; valid: %d-65535", port, lo)
	}
	return nil
}

// checkHostPattern accepts "app.example.com" and "*.example.com".
func checkHostPattern(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || strings.ContainsAny(name, "*:/ ") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return errors.New("valid: a host name, or \"*.\" followed by one, e.g. \"*.example.com\"")
	}
	return nil
}

// unjoin splits an errors.Join result.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
