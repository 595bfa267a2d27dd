package health

import "time"

// Config is one target group's active health check, with the fields and
// defaults of an ALB target group health check (see docs/health.md).
//
// The zero value of a field means "use the default"; WithDefaults fills
// them in and Validate checks the ranges.
type Config struct {
	// Path is requested with GET. Default "/".
	Path string
	// Port overrides the target's traffic port when non-zero (1-65535).
	Port int
	// Host, when set, is sent as the Host header of the check.
	Host string
	// Interval between checks of one target. Default 30s. Range 500ms-300s
	// (ALB: 5s-300s; cutover allows shorter intervals for local deploys).
	Interval time.Duration
	// Timeout of one check; must be less than Interval. Default 6s, or
	// Interval/2 when that is shorter. Range 100ms-120s.
	Timeout time.Duration
	// HealthyThreshold consecutive passes make a target healthy, also from
	// the initial state. Default 5. Range 2-10.
	HealthyThreshold int
	// UnhealthyThreshold consecutive failures make a target unhealthy.
	// Default 2. Range 2-10.
	UnhealthyThreshold int
	// Matcher lists the success codes: "200", "200,202", "200-299".
	// Codes must lie in 200-499. Default "200". For ProtocolGRPC and
	// ProtocolGRPCS they are
	// gRPC status codes, 0-99, default "0" (DefaultGRPCMatcher).
	Matcher string
	// Protocol is how the check speaks to the target, that of its target
	// group: ProtocolHTTP1 (or empty, the default) sends an HTTP/1.1 GET, ProtocolHTTP2
	// and ProtocolH2C an HTTP/2 GET (over TLS, in cleartext), ProtocolGRPC
	// and ProtocolGRPCS call grpc.health.v1.Health/Check (over h2c, over
	// TLS) and pass when the gRPC status is in Matcher and the serving
	// status is SERVING.
	Protocol string
	// GRPCService is the service asked about in the gRPC health check;
	// empty asks about the server as a whole. ProtocolGRPC and
	// ProtocolGRPCS only.
	GRPCService string
	// Disabled turns active checks off: every registered target is
	// treated as healthy.
	Disabled bool
}

// Defaults as ALB has them for an HTTP target group.
const (
	DefaultPath               = "/"
	DefaultInterval           = 30 * time.Second
	DefaultTimeout            = 6 * time.Second
	DefaultHealthyThreshold   = 5
	DefaultUnhealthyThreshold = 2
	DefaultMatcher            = "200"
)

// Ranges accepted by Validate.
const (
	MinInterval  = 500 * time.Millisecond
	MaxInterval  = 300 * time.Second
	MinTimeout   = 100 * time.Millisecond
	MaxTimeout   = 120 * time.Second
	MinThreshold = 2
	MaxThreshold = 10
)

// WithDefaults returns c with every zero field set to its default. The
// default Timeout is DefaultTimeout, or half the Interval when that is
// shorter, so that a config giving only a short interval stays valid.
func (c Config) WithDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval/2)
	}
	if c.HealthyThreshold == 0 {
		c.HealthyThreshold = DefaultHealthyThreshold
	}
	if c.UnhealthyThreshold == 0 {
		c.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if c.Matcher == "" {
		c.Matcher = DefaultMatcher
		if SpeaksGRPC(c.Protocol) {
			c.Matcher = DefaultGRPCMatcher
		}
	}
	return c
}

// parseMatcher parses Matcher as HTTP or gRPC codes, by Protocol.
func (c Config) parseMatcher() (Matcher, error) {
	if SpeaksGRPC(c.Protocol) {
		return ParseGRPCMatcher(c.Matcher)
	}
	return ParseMatcher(c.Matcher)
}
