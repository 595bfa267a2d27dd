package deploy

import (
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// AlarmState is the outcome of evaluating one alarm.
type AlarmState string

const (
	AlarmOK AlarmState = "OK"
	// AlarmInAlarm rolls the deployment back.
	AlarmInAlarm AlarmState = "ALARM"
	// AlarmNoData: too few requests in the window to judge (MinRequests
	// gate); neither pass nor fail.
	AlarmNoData AlarmState = "INSUFFICIENT_DATA"
)

// AlarmVerdict is an evaluated alarm with the numbers behind it.
type AlarmVerdict struct {
	State     AlarmState
	Value     float64 // green's metric
	Threshold float64 // Above, or Above × blue's metric for relative alarms
	Reason    string
}

// EvaluateAlarm judges alarm a from the green and blue task sets' stats
// over the alarm's window. A window with fewer than minRequests requests
// to green (or, for a relative alarm, to blue) gives AlarmNoData.
func EvaluateAlarm(a config.Alarm, green, blue metrics.WindowStats, minRequests int) AlarmVerdict {
	if green.Requests < int64(minRequests) {
		return AlarmVerdict{State: AlarmNoData, Reason: fmt.Sprintf("%d requests to green, fewer than %d", green.Requests, minRequests)}
	}
	v := AlarmVerdict{Value: metricValue(a.Metric, green), Threshold: a.Above}
	if a.RelativeToBlue {
		if blue.Requests < int64(minRequests) {
			return AlarmVerdict{State: AlarmNoData, Reason: fmt.Sprintf("%d requests to blue, fewer than %d", blue.Requests, minRequests)}
		}
		v.Threshold = a.Above * metricValue(a.Metric, blue)
	}
	if v.Value > v.Threshold {
		v.State = AlarmInAlarm
		v.Reason = fmt.Sprintf("%s %s of green is above %s", a.Metric, formatMetric(a.Metric, v.Value), formatMetric(a.Metric, v.Threshold))
		if a.RelativeToBlue {
			v.Reason += fmt.Sprintf(" (%g × blue's)", a.Above)
		}
		return v
	}
	v.State = AlarmOK
	return v
}

func metricValue(metric string, s metrics.WindowStats) float64 {
	switch metric {
	case config.MetricLatencyP99:
		return s.P99.Seconds()
	default:
		return s.ErrorRate
	}
}

func formatMetric(metric string, v float64) string {
	if metric == config.MetricLatencyP99 {
		return time.Duration(v * float64(time.Second)).String()
	}
	return fmt.Sprintf("%.2f%%", v*100)
}
