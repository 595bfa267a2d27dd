package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// ProductionAlarms evaluates the app's alarms (cutover.yaml's
// deploy.rollback.alarms, by default 5% errors over 30s) on the task set
// that serves production, from the proxy's metrics, outside any
// deployment: the pipeline's stage conditions ask it whether an alarm is
// open before a deployment and during a bake time after one. Each
// alarm's window reaches back its For, but never before since (zero: no
// such bound), so a bake does not judge the new revision by what the old
// one served. An alarm relative to blue has no blue to compare with
// here: it gives AlarmNoData. Fewer requests than min_requests in the
// window give AlarmNoData too: an idle app is not in alarm.
func (c *Controller) ProductionAlarms(ctx context.Context, app string, since time.Time) ([]AlarmVerdict, error) {
	if err := c.waitStarted(ctx); err != nil {
		return nil, fmt.Errorf("evaluating the alarms of %s: %w", app, err)
	}
	c.mu.Lock()
	a := c.apps[app]
	if a == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("evaluating the alarms of %s: %w: no such app", app, store.ErrNotFound)
	}
	cfg, group := a.cfg.Deploy.Rollback, groupName(app, a.color)
	c.mu.Unlock()

	var verdicts []AlarmVerdict
	for _, al := range cfg.Alarms {
		w := al.For
		if !since.IsZero() {
			w = max(min(w, time.Since(since).Round(time.Second)), time.Second)
		}
		if al.RelativeToBlue {
			verdicts = append(verdicts, AlarmVerdict{State: AlarmNoData, Reason: al.Metric + " is relative to blue: no blue outside a deployment"})
			continue
		}
		al.For = w
		v := EvaluateAlarm(al, c.router.Window(group, w), c.router.Window(group, w), cfg.MinRequests)
		if v.State == AlarmInAlarm {
			v.Reason = fmt.Sprintf("%s %s of production (%s) over %s is above %s",
				al.Metric, formatMetric(al.Metric, v.Value), group, w, formatMetric(al.Metric, v.Threshold))
		}
		verdicts = append(verdicts, v)
	}
	return verdicts, nil
}
