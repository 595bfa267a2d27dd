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

	if _, err := ParseMatcher(c.Matcher); err != nil {
		add("matcher", "%q is invalid; valid: a code 200-499, a list \"200,202\" or a range \"200-299\"", c.Matcher)
	}
	return errors.Join(errs...)
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
