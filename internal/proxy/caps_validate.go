package proxy

import (
	"fmt"
	"strings"
)

// checkTraffic checks a target group's slow start, stickiness and
// limits, after defaults.
func checkTraffic(where string, tg TargetGroupConfig) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(where+": "+format, args...)) }
	if tg.SlowStart != 0 && (tg.SlowStart < MinSlowStart || tg.SlowStart > MaxSlowStart) {
		add("slow_start: %s is out of range; valid: %s-%s, or 0 for off", tg.SlowStart, MinSlowStart, MaxSlowStart)
	}
	st := tg.Stickiness
	switch st.Type {
	case "":
		if st.CookieName != "" || st.Duration != 0 {
			add("stickiness: type is missing; valid: %q, %q", StickyLBCookie, StickyAppCookie)
		}
	case StickyLBCookie:
		if st.CookieName != "" {
			add("stickiness: cookie_name is only for type %q", StickyAppCookie)
		}
	case StickyAppCookie:
		if err := CheckCookieName(st.CookieName); err != nil {
			add("stickiness: cookie_name %q: %v", st.CookieName, err)
		}
	default:
		add("stickiness: type %q is invalid; valid: %q, %q", st.Type, StickyLBCookie, StickyAppCookie)
	}
	if st.Type != "" && (st.Duration < 1e9 || st.Duration > MaxStickinessDuration) {
		add("stickiness: duration %s is out of range; valid: 1s-%s", st.Duration, MaxStickinessDuration)
	}
	if tg.MaxBodySize < 0 {
		add("max_body_size: %d is negative; valid: a size in bytes, or 0 for no limit", tg.MaxBodySize)
	}
	if tg.MaxConnectionsPerTarget < 0 || tg.MaxConnectionsPerTarget > MaxMaxConnections {
		add("max_connections_per_target: %d is out of range; valid: 1-%d, or 0 for no limit", tg.MaxConnectionsPerTarget, MaxMaxConnections)
	}
	return errs
}

// CheckCookieName accepts an RFC 6265 cookie name that is not the
// proxy's own.
func CheckCookieName(name string) error {
	if name == "" {
		return fmt.Errorf("empty; valid: the name of the cookie the app sets")
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return fmt.Errorf("%q is not allowed in a cookie name", c)
		}
	}
	if strings.HasPrefix(strings.ToUpper(name), StickyCookie) {
		return fmt.Errorf("names starting with %s are the proxy's own", StickyCookie)
	}
	return nil
}
