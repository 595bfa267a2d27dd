package deploy

import (
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

func TestEvaluateAlarm(t *testing.T) {
	errRate := config.Alarm{Metric: config.MetricErrorRate, Above: 0.05, For: 30 * time.Second}
	relP99 := config.Alarm{Metric: config.MetricLatencyP99, Above: 2, For: 30 * time.Second, RelativeToBlue: true}
	stats := func(req, errs int64, p99 time.Duration) metrics.WindowStats {
		s := metrics.WindowStats{Requests: req, Errors: errs, P99: p99}
		if req > 0 {
			s.ErrorRate = float64(errs) / float64(req)
		}
		return s
	}
	tests := []struct {
		name        string
		alarm       config.Alarm
		green, blue metrics.WindowStats
		minRequests int
		want        AlarmState
	}{
		{"below min requests: no verdict even at 100% errors", errRate, stats(19, 19, 0), stats(0, 0, 0), 20, AlarmNoData},
		{"at min requests: judged", errRate, stats(20, 19, 0), stats(0, 0, 0), 20, AlarmInAlarm},
		{"no traffic: no verdict", errRate, stats(0, 0, 0), stats(100, 0, 0), 20, AlarmNoData},
		{"min requests 0 judges an idle window as OK", errRate, stats(0, 0, 0), stats(0, 0, 0), 0, AlarmOK},
		{"under threshold", errRate, stats(100, 5, 0), stats(0, 0, 0), 20, AlarmOK},
		{"over threshold", errRate, stats(100, 6, 0), stats(0, 0, 0), 20, AlarmInAlarm},
		{"relative: blue too idle", relP99, stats(100, 0, time.Second), stats(5, 0, 10*time.Millisecond), 20, AlarmNoData},
		{"relative: within 2x blue", relP99, stats(100, 0, 19*time.Millisecond), stats(100, 0, 10*time.Millisecond), 20, AlarmOK},
		{"relative: above 2x blue", relP99, stats(100, 0, 21*time.Millisecond), stats(100, 0, 10*time.Millisecond), 20, AlarmInAlarm},
	}
	for _, tt := range tests {
		got := EvaluateAlarm(tt.alarm, tt.green, tt.blue, tt.minRequests)
		if got.State != tt.want {
			t.Errorf("%s: state %s (%+v); want %s", tt.name, got.State, got, tt.want)
		}
	}
}
