package deploy

import (
	"slices"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
)

func TestSchedule(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name    string
		traffic config.Traffic
		want    []TrafficStep
	}{
		{"all at once", config.Traffic{Type: config.TrafficAllAtOnce}, []TrafficStep{{0, 100}}},
		{"zero value", config.Traffic{}, []TrafficStep{{0, 100}}},
		{"canary 10% 5m", config.Traffic{Type: config.TrafficCanary, Percent: 10, Interval: 5 * m},
			[]TrafficStep{{0, 10}, {5 * m, 100}}},
		{"linear 10% every 1m", config.Traffic{Type: config.TrafficLinear, Percent: 10, Interval: m},
			[]TrafficStep{{0, 10}, {m, 20}, {2 * m, 30}, {3 * m, 40}, {4 * m, 50}, {5 * m, 60}, {6 * m, 70}, {7 * m, 80}, {8 * m, 90}, {9 * m, 100}}},
		{"linear 30% ends at 100", config.Traffic{Type: config.TrafficLinear, Percent: 30, Interval: m},
			[]TrafficStep{{0, 30}, {m, 60}, {2 * m, 90}, {3 * m, 100}}},
		{"linear 50%", config.Traffic{Type: config.TrafficLinear, Percent: 50, Interval: m},
			[]TrafficStep{{0, 50}, {m, 100}}},
	}
	for _, tt := range tests {
		if got := Schedule(tt.traffic); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Schedule = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestWeights(t *testing.T) {
	tests := []struct{ percent, blue, green int }{
		{0, 100, 0}, {10, 90, 10}, {100, 0, 100}, {150, 0, 100}, {-5, 100, 0},
	}
	for _, tt := range tests {
		if b, g := Weights(tt.percent); b != tt.blue || g != tt.green {
			t.Errorf("Weights(%d) = %d, %d; want %d, %d", tt.percent, b, g, tt.blue, tt.green)
		}
	}
}

func TestResumeStep(t *testing.T) {
	steps := Schedule(config.Traffic{Type: config.TrafficLinear, Percent: 25, Interval: time.Second})
	tests := []struct{ percent, want int }{{0, 0}, {25, 1}, {30, 1}, {75, 3}, {100, 4}}
	for _, tt := range tests {
		if got := resumeStep(steps, tt.percent); got != tt.want {
			t.Errorf("resumeStep(%d) = %d; want %d", tt.percent, got, tt.want)
		}
	}
}
