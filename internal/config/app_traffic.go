package config

import (
	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/proxy"
)

// Keys of cutover.yaml for the load balancer's slow start, stickiness
// and limits, by section; they become the app's target group and
// listener settings (docs/cutover-yaml.md).
var (
	serviceLimitFields  = []string{"max_body_size", "max_connections_per_task"}
	deployTrafficFields = []string{"slow_start", "stickiness"}
)

// serviceLimits reads service.max_body_size and
// service.max_connections_per_task.
func (w *walker) serviceLimits(f map[string]*yaml.Node, s *Service) {
	if v := f["max_body_size"]; v != nil {
		s.MaxBodySize = w.size(v, "service.max_body_size", 0, 1<<40)
	}
	if v := f["max_connections_per_task"]; v != nil {
		s.MaxConnectionsPerTask = w.integer(v, "service.max_connections_per_task", 0, proxy.MaxMaxConnections)
	}
}

// deployTraffic reads deploy.slow_start ("0s" is off) and
// deploy.stickiness.
func (w *walker) deployTraffic(f map[string]*yaml.Node, d *Deploy) {
	if v := f["slow_start"]; v != nil {
		d.SlowStart = w.duration(v, "deploy.slow_start", 0, proxy.MaxSlowStart)
		if d.SlowStart != 0 && d.SlowStart < proxy.MinSlowStart {
			w.errorf(v, "deploy.slow_start", "%s is too short; valid: %s-%s, or 0s for off",
				d.SlowStart, fmtDuration(proxy.MinSlowStart), fmtDuration(proxy.MaxSlowStart))
		}
	}
	if v := f["stickiness"]; v != nil {
		d.Stickiness = w.stickiness(v, "deploy.stickiness")
		if d.Stickiness.Type != "" && d.Stickiness.Duration == 0 {
			d.Stickiness.Duration = proxy.DefaultStickinessDuration
		}
	}
}

// listenerHeaderLimit reads listeners.max_header_size.
func (w *walker) listenerHeaderLimit(f map[string]*yaml.Node, l *Listeners) {
	if v := f["max_header_size"]; v != nil {
		l.MaxHeaderSize = int(w.size(v, "listeners.max_header_size", proxy.MinMaxHeaderSize, proxy.MaxMaxHeaderSize))
	}
}
