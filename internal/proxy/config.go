package proxy

import (
	"slices"
	"time"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/health"
)

// Config is the whole desired state of the data plane: listeners with their
// rules, and the target groups they forward to. (*Proxy).Apply moves the
// running proxy to a Config atomically; the file format that produces it
// lives in internal/config (lb.yaml) and in the controller.
type Config struct {
	Listeners    []ListenerConfig
	TargetGroups []TargetGroupConfig
	// ACME chooses the CA that listeners with TLS.ACMEHosts get their
	// certificates from (see autotls.go).
	ACME acme.Settings `json:",omitzero"`
}

// ListenerConfig is one address the proxy accepts client connections on,
// like an ALB listener ("production" on :8080, "test" on :8090).
type ListenerConfig struct {
	Name    string // unique, e.g. "production"
	Address string // host:port, e.g. ":8080"
	// TLS enables HTTPS with HTTP/2 through ALPN. Without it the listener
	// speaks HTTP/1.1 and h2c.
	TLS *TLSConfig
	// Rules are evaluated in ascending Priority; the first match forwards.
	Rules []RuleConfig
	// Default is the action when no rule matches. An empty Default
	// answers 503.
	Default ForwardConfig
	// DefaultFixedResponse, when set, is the action when no rule matches
	// instead of Default, which must then be empty.
	DefaultFixedResponse *FixedResponseConfig
	// BodyTimeout is the longest wait between two successive reads of a
	// request body, as nginx's client_body_timeout: a client that sends
	// nothing for that long gets 408 if no body byte went to the target
	// yet, else its connection is cut. It does not limit the total time
	// of an upload. Default 60s; negative: none.
	BodyTimeout time.Duration
	// HTTPSRedirects send requests for their hosts to HTTPS, once a
	// certificate for the host is served (see autotls.go).
	HTTPSRedirects []HTTPSRedirect `json:",omitempty"`
	// MaxConnections caps the client connections open at once, upgraded
	// ones (WebSockets) included. At the cap, new connections wait in
	// the kernel's accept backlog until one closes. Default 10000.
	MaxConnections int
	// MaxHeaderSize caps a request's line and header fields, in bytes as
	// received (less optional whitespace): a larger request gets 431.
	// Default 64 KiB, 1 KiB-1 MiB (see caps.go).
	MaxHeaderSize int `json:",omitzero"`
}

// TLSConfig names PEM certificate and key files, or the hosts to get
// certificates for from the ACME CA.
type TLSConfig struct {
	CertFile string
	KeyFile  string
	// ACMEHosts, instead of CertFile and KeyFile, are the host names the
	// listener gets certificates for from Config.ACME; a name without a
	// certificate (yet) gets the unrecognized_name alert.
	ACMEHosts []string `json:",omitempty"`
	// HSTS adds Strict-Transport-Security to the responses for its hosts.
	HSTS []HSTSConfig `json:",omitempty"`
}

// RuleConfig matches requests by Host header and path prefix, as an ALB
// listener rule does. An empty list matches anything; a rule matches when
// both its host and its path conditions match.
type RuleConfig struct {
	Priority int
	// Hosts are exact names ("app1.example.com") or wildcards
	// ("*.example.com" matches one or more labels before the suffix).
	// Matching ignores case and any port.
	Hosts []string
	// PathPrefixes match the request path ("/api" matches "/api" and
	// "/api/x" but not "/apix").
	PathPrefixes []string
	Forward      ForwardConfig
	// FixedResponse, when set, answers the matching requests instead of
	// forwarding them; Forward must then be empty.
	FixedResponse *FixedResponseConfig
}

// ForwardConfig splits requests between target groups by weight, as an
// ALB weighted forward action does. Weights are 0-999; a group with weight
// 0 gets no new requests.
type ForwardConfig struct {
	TargetGroups []WeightedTargetGroup
}

// WeightedTargetGroup names a target group and its share of a ForwardConfig.
type WeightedTargetGroup struct {
	Name   string
	Weight int
}

// Algorithms for picking a target inside a group.
const (
	RoundRobin               = "round_robin"
	LeastOutstandingRequests = "least_outstanding_requests"
)

// TargetGroupConfig is a set of targets that share a health check and
// forwarding settings.
type TargetGroupConfig struct {
	Name    string
	Targets []string // host:port
	// Algorithm is RoundRobin (default) or LeastOutstandingRequests.
	Algorithm string
	// Protocol is how the proxy speaks to the targets: ProtocolHTTP1
	// (default), ProtocolHTTP2 (over TLS), ProtocolH2C, ProtocolGRPC (h2c)
	// or ProtocolGRPCS (over TLS); see h2target.go. The health check
	// speaks it too.
	Protocol    string
	HealthCheck health.Config
	// DeregistrationDelay is how long a removed target may finish its
	// in-flight requests, WebSockets and streams. Default 300s (the zero
	// value), at most 3600s; a negative value means no delay.
	DeregistrationDelay time.Duration
	// ResponseTimeout is the longest wait for a target's response headers
	// before the client gets 504. Default 60s.
	ResponseTimeout time.Duration
	Outlier         OutlierConfig
	// AssumeHealthy lists targets (a subset of Targets) that start in the
	// healthy state instead of initial when they are first registered.
	// The controller uses it for tasks re-adopted after a cutover restart
	// that were healthy before it, so the production listener serves again
	// at once; their checks run as usual and demote them if they fail.
	AssumeHealthy []string
	// SlowStart, when set, ramps the share of a target that becomes
	// healthy linearly from zero to its full share over this long, as
	// ALB's slow_start.duration_seconds (30s-900s; 0 is off). See
	// slowstart.go.
	SlowStart time.Duration `json:",omitzero"`
	// Stickiness sends a client's requests to the same target while its
	// cookie lasts (see sticky.go). The zero value is off.
	Stickiness StickinessConfig `json:",omitzero"`
	// MaxBodySize caps a request body, in bytes: a larger one gets 413
	// (see caps.go). 0 is no limit.
	MaxBodySize int64 `json:",omitzero"`
	// MaxConnectionsPerTarget caps the requests and upgraded connections
	// a target has in flight at once: a full target gets no new request,
	// which goes to another target or, when all are full, gets 503. 0 is
	// no limit.
	MaxConnectionsPerTarget int `json:",omitzero"`
}

// Stickiness types, as ALB's stickiness.type.
const (
	StickyLBCookie  = "lb_cookie"
	StickyAppCookie = "app_cookie"
)

// StickinessConfig is a target group's session stickiness. With
// StickyLBCookie the proxy sets its cookie (StickyCookie) on every
// response; with StickyAppCookie it sets it when the target sets the
// app's cookie CookieName, and honours it only while the request carries
// that cookie too.
type StickinessConfig struct {
	Type       string        // "" (off), StickyLBCookie or StickyAppCookie
	Duration   time.Duration // the cookie's lifetime; default 1 day, 1s-7 days
	CookieName string        // StickyAppCookie only: the app's cookie
}

// OutlierConfig is passive outlier detection: a target that fails
// ConsecutiveFailures requests in a row (connection errors or 5xx) is
// ejected for Ejection and comes back only through its active health check.
type OutlierConfig struct {
	ConsecutiveFailures int           // default 5; negative disables
	Ejection            time.Duration // default 30s
}

// WithHealthy returns c with the given targets, by group, added to
// AssumeHealthy: a process taking over from another registers the
// targets that were healthy there as healthy, not initial.
func (c Config) WithHealthy(healthy map[string][]string) Config {
	tgs := make([]TargetGroupConfig, len(c.TargetGroups))
	for i, tg := range c.TargetGroups {
		tg.AssumeHealthy = append(slices.Clone(tg.AssumeHealthy), healthy[tg.Name]...)
		tgs[i] = tg
	}
	c.TargetGroups = tgs
	return c
}
