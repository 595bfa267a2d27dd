package deploy

import (
	"context"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// monitorAlarms evaluates the deployment's alarms every second from the
// proxy's own metrics of the two target groups, until ctx ends. An alarm
// in ALARM rolls the deployment back. The window of an alarm never
// reaches back before the monitor started, so traffic an older revision
// served in the same target group is not held against this one.
func (c *Controller) monitorAlarms(ctx context.Context, r *run) {
	alarms := r.cfg.Deploy.Rollback.Alarms
	if len(alarms) == 0 {
		return
	}
	m := c.router
	green, blue := groupName(r.app.name, r.rec.Green), groupName(r.app.name, r.rec.Blue)
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		since := time.Since(start).Round(time.Second)
		for _, a := range alarms {
			w := max(min(a.For, since), time.Second)
			v := EvaluateAlarm(a, m.Window(green, w), m.Window(blue, w), r.cfg.Deploy.Rollback.MinRequests)
			if v.State != AlarmInAlarm {
				continue
			}
			c.log.Warn("alarm", "deployment", r.d.ID, "reason", v.Reason)
			c.event(ctx, "deployment.alarm", r.app.name, r.d.ID, map[string]any{
				"metric": a.Metric, "value": v.Value, "threshold": v.Threshold, "window": w.String(), "reason": v.Reason,
			})
			// Alarms always roll back: configuring one opts into it.
			c.setAbort(ctx, r, abortRecord{Status: store.DeploymentRolledBack, Reason: "alarm: " + v.Reason})
			return
		}
	}
}
