package config

import (
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/proxy"
)

// trafficFields are the keys of a target group (lb.yaml) for slow start,
// stickiness and limits; targetGroupTraffic reads them.
var trafficFields = []string{"slow_start", "stickiness", "max_body_size", "max_connections_per_target"}

// targetGroupTraffic reads slow_start ("0s" is off), stickiness,
// max_body_size and max_connections_per_target into tg.
func (w *walker) targetGroupTraffic(f map[string]*yaml.Node, path string, tg *proxy.TargetGroupConfig) {
	if v := f["slow_start"]; v != nil {
		tg.SlowStart = w.duration(v, path+".slow_start", 0, proxy.MaxSlowStart)
		if tg.SlowStart != 0 && tg.SlowStart < proxy.MinSlowStart {
			w.errorf(v, path+".slow_start", "%s is too short; valid: %s-%s, or 0s for off", tg.SlowStart, fmtDuration(proxy.MinSlowStart), fmtDuration(proxy.MaxSlowStart))
		}
	}
	if v := f["stickiness"]; v != nil {
		tg.Stickiness = w.stickiness(v, path+".stickiness")
	}
	if v := f["max_body_size"]; v != nil {
		tg.MaxBodySize = w.size(v, path+".max_body_size", 0, 1<<40)
	}
	if v := f["max_connections_per_target"]; v != nil {
		tg.MaxConnectionsPerTarget = w.integer(v, path+".max_connections_per_target", 0, proxy.MaxMaxConnections)
	}
}

// stickiness reads {type: lb_cookie | app_cookie, duration, cookie_name}.
func (w *walker) stickiness(n *yaml.Node, path string) proxy.StickinessConfig {
	var st proxy.StickinessConfig
	f := w.fields(n, path, "type", "duration", "cookie_name")
	if f == nil {
		return st
	}
	if v := w.required(f, n, path, "type", `give lb_cookie (the proxy's cookie) or app_cookie (follow the app's cookie)`); v != nil {
		st.Type = w.str(v, path+".type")
		if st.Type != proxy.StickyLBCookie && st.Type != proxy.StickyAppCookie {
			w.errorf(v, path+".type", "%q is not a stickiness type; valid: %s, %s", st.Type, proxy.StickyLBCookie, proxy.StickyAppCookie)
		}
	}
	if v := f["duration"]; v != nil {
		st.Duration = w.duration(v, path+".duration", time.Second, proxy.MaxStickinessDuration)
	}
	v := f["cookie_name"]
	switch {
	case st.Type == proxy.StickyAppCookie && v == nil:
		w.errorf(n, path+".cookie_name", "missing; app_cookie follows the cookie the app sets, e.g. cookie_name: SESSIONID")
	case st.Type == proxy.StickyLBCookie && v != nil:
		w.errorf(v, path+".cookie_name", "is only for type app_cookie; lb_cookie uses the proxy's own cookie %s", proxy.StickyCookie)
	case v != nil:
		st.CookieName = w.str(v, path+".cookie_name")
		if err := proxy.CheckCookieName(st.CookieName); err != nil {
			w.errorf(v, path+".cookie_name", "%v", err)
		}
	}
	return st
}

// size reads a byte size in [lo, hi]: a whole number of bytes, or one
// with a unit such as 64KiB, 10MB or 1GiB.
func (w *walker) size(n *yaml.Node, path string, lo, hi int64) int64 {
	n = resolve(n)
	v, ok := parseSize(n.Value)
	if n.Kind != yaml.ScalarNode || !ok {
		w.errorf(n, path, "%q is not a size; write bytes, or e.g. 64KiB, 10MB, 1GiB", n.Value)
		return 0
	}
	if v < lo || v > hi {
		w.errorf(n, path, "%d bytes is out of range; valid: %d-%d", v, lo, hi)
	}
	return v
}

// parseSize parses "1048576", "1MiB", "1MB", "64KiB", "64KB" or "1GiB".
func parseSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.n
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<50)/mult {
		return 0, false
	}
	return v * mult, true
}
