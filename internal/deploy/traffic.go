package deploy

import (
	"time"

	"github.com/cutover/cutover/internal/config"
)

// TrafficStep is one production traffic shift: at At after AllowTraffic
// began, the green task set gets Percent of production requests.
type TrafficStep struct {
	At      time.Duration
	Percent int
}

// Schedule returns the steps of a traffic-shifting configuration, the way
// CodeDeploy's trafficRoutingConfig moves traffic: all at once; canary
// (Percent, then 100 after Interval); linear (Percent more every Interval,
// the last step 100 whatever the rounding). The last step is always 100.
func Schedule(t config.Traffic) []TrafficStep {
	switch t.Type {
	case config.TrafficCanary:
		if t.Percent > 0 && t.Percent < 100 {
			return []TrafficStep{{0, t.Percent}, {t.Interval, 100}}
		}
	case config.TrafficLinear:
		if t.Percent > 0 && t.Percent < 100 {
			var steps []TrafficStep
			for i := 0; ; i++ {
				p := min((i+1)*t.Percent, 100)
				steps = append(steps, TrafficStep{time.Duration(i) * t.Interval, p})
				if p == 100 {
					return steps
				}
			}
		}
	}
	return []TrafficStep{{0, 100}}
}

// Weights turns green's percentage into the weights of a weighted forward
// (0-999 each, as ALB's): blue gets the rest.
func Weights(greenPercent int) (blue, green int) {
	green = min(max(greenPercent, 0), 100)
	return 100 - green, green
}

// resumeStep returns the index of the first step of steps still to do
// when green already has percent: the step after the last one reached.
func resumeStep(steps []TrafficStep, percent int) int {
	for i, s := range steps {
		if s.Percent > percent {
			return i
		}
	}
	return len(steps)
}
