package applog

import "time"

// ParseSince parses how far back to read: a duration before now, such
// as 10m or 1h30m, or a time in RFC 3339, such as 2026-12-04T19:00:00Z.
func ParseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, badRequestf("since %q must be a positive duration such as 10m or 1h", v)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequestf("since %q is neither a duration such as 10m or 1h nor a time such as 2026-12-04T19:00:00Z", v)
}
