package health

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// FieldError is a Config field with a value Validate rejects. Field is the
// name used in lb.yaml and cutover.yaml ("healthy_threshold"), so a config
// loader can point at the line that set it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks c after applying defaults, so zero fields are valid. It
// returns nil or the errors.Join of one *FieldError per invalid field.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	if !strings.HasPrefix(c.Path, "/") {
		add("path", "%q is invalid; valid: a path starting with \"/\", e.g. \"/up\"", c.Path)
	} else if _, err := url.ParseRequestURI(c.Path); err != nil || strings.ContainsAny(c.Path, " #") {
		add("path", "%q is not a valid request path", c.Path)
	}
	if c.Port < 0 || c.Port > 65535 {
		add("port", "%d is out of range; valid: 1-65535, or 0 for the target's own port", c.Port)
	}
	if strings.ContainsFunc(c.Host, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }) {
		add("host", "%q is not a valid Host header", c.Host)
	}

	intervalOK := checkDuration(add, "interval", c.Interval, MinInterval, MaxInterval)
	timeoutOK := checkDuration(add, "timeout", c.Timeout, MinTimeout, MaxTimeout)
	if intervalOK && timeoutOK && c.Timeout >= c.Interval {
		add("timeout", "%s must be less than interval (%s)", formatDuration(c.Timeout), formatDuration(c.Interval))
	}

	checkThreshold(add, "healthy_threshold", c.HealthyThreshold)
	checkThreshold(add, "unhealthy_threshold", c.UnhealthyThreshold)

	c.validateProtocol(add)
	return errors.Join(errs...)
}

// validateProtocol checks the fields that depend on Protocol.
func (c Config) validateProtocol(add func(string, string, ...any)) {
	switch c.Protocol {
	case "", ProtocolHTTP1, ProtocolHTTP2, ProtocolH2C, ProtocolGRPC, ProtocolGRPCS:
	default:
		add("protocol", "%q is invalid; valid: %s, %s, %s, %s, %s", c.Protocol, ProtocolHTTP1, ProtocolHTTP2, ProtocolH2C, ProtocolGRPC, ProtocolGRPCS)
		return
	}
	if SpeaksGRPC(c.Protocol) {
		if _, err := ParseGRPCMatcher(c.Matcher); err != nil {
			add("matcher", "%q is invalid for a %s target group; valid: a gRPC status code 0-99, a list \"0,5\" or a range \"0-99\"", c.Matcher, c.Protocol)
		}
	} else if _, err := ParseMatcher(c.Matcher); err != nil {
		add("matcher", "%q is invalid; valid: a code 200-499, a list \"200,202\" or a range \"200-299\"", c.Matcher)
	}
	switch {
	case c.GRPCService != "" && !SpeaksGRPC(c.Protocol):
		add("grpc_service", "applies to grpc and grpcs target groups only")
	case len(c.GRPCService) > 200 || strings.ContainsFunc(c.GRPCService, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		add("grpc_service", "%q is invalid; valid: a service name such as \"mypackage.MyService\", at most 200 characters, no spaces", c.GRPCService)
	}
}

func checkDuration(add func(string, string, ...any), field string, d, lo, hi time.Duration) bool {
	if d < lo || d > hi {
		add(field, "%s is out of range; valid: %s-%s", formatDuration(d), formatDuration(lo), formatDuration(hi))
		return false
	}
	return true
}

func checkThreshold(add func(string, string, ...any), field string, n int) {
	if n < MinThreshold || n > MaxThreshold {
		add(field, "%d is out of range; valid: %d-%d", n, MinThreshold, MaxThreshold)
	}
}

// formatDuration writes whole seconds as "300s" (as ALB documents its
// ranges) rather than time.Duration's "5m0s".
func formatDuration(d time.Duration) string {
	if d != 0 && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}
