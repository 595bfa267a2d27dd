package deploy

import (
	"errors"
	"testing"
)

func TestRollingBounds(t *testing.T) {
	tests := []struct {
		desired, minPct, maxPct int
		wantMax, wantMin        int
		stuck                   bool
	}{
		{4, 100, 200, 8, 4, false},
		{4, 50, 200, 8, 2, false},
		{4, 50, 100, 4, 2, false},
		{2, 75, 200, 4, 2, false},  // 75% of 2 rounds up to 2
		{3, 100, 125, 3, 3, true},  // 125% of 3 rounds down to 3
		{2, 75, 100, 2, 2, true},   // neither bound moves
		{3, 0, 100, 3, 0, false},   // stop first
		{1, 100, 200, 2, 1, false}, //
		{10, 90, 110, 11, 9, false},
		{0, 100, 200, 0, 0, false},
	}
	for _, tt := range tests {
		gotMax, gotMin, err := RollingBounds(tt.desired, tt.minPct, tt.maxPct)
		if gotMax != tt.wantMax || gotMin != tt.wantMin {
			t.Errorf("RollingBounds(%d, %d, %d) = %d, %d; want %d, %d", tt.desired, tt.minPct, tt.maxPct, gotMax, gotMin, tt.wantMax, tt.wantMin)
		}
		if stuck := errors.Is(err, ErrStuckRolling); stuck != tt.stuck {
			t.Errorf("RollingBounds(%d, %d, %d) error = %v; want stuck %v", tt.desired, tt.minPct, tt.maxPct, err, tt.stuck)
		}
	}
}

func TestRollingStep(t *testing.T) {
	tests := []struct {
		name                string
		c                   RollingCounts
		wantStart, wantStop int
	}{
		{"100/200 starts all new at once", RollingCounts{Desired: 4, MaxTasks: 8, MinHealthy: 4, Live: 4, Serving: 4, OldWanted: 4}, 4, 0},
		{"100/200 stops old once new are healthy", RollingCounts{Desired: 4, MaxTasks: 8, MinHealthy: 4, Live: 8, Serving: 6, NewWanted: 4, OldWanted: 4}, 0, 2},
		{"50/100 stops before starting", RollingCounts{Desired: 4, MaxTasks: 4, MinHealthy: 2, Live: 4, Serving: 4, OldWanted: 4}, 0, 2},
		{"50/100 starts into freed room", RollingCounts{Desired: 4, MaxTasks: 4, MinHealthy: 2, Live: 2, Serving: 2, OldWanted: 2}, 2, 0},
		{"never below min healthy", RollingCounts{Desired: 2, MaxTasks: 4, MinHealthy: 2, Live: 4, Serving: 2, NewWanted: 2, OldWanted: 2}, 0, 0},
		{"never more than old wanted", RollingCounts{Desired: 2, MaxTasks: 4, MinHealthy: 2, Live: 3, Serving: 5, NewWanted: 2, OldWanted: 1}, 0, 1},
		{"done", RollingCounts{Desired: 2, MaxTasks: 4, MinHealthy: 2, Live: 2, Serving: 2, NewWanted: 2}, 0, 0},
		{"unhealthy old tasks go at once", RollingCounts{Desired: 2, MaxTasks: 4, MinHealthy: 2, Live: 4, Serving: 2, NewWanted: 2, OldWanted: 2, OldIdle: 2}, 0, 2},
		{"only the idle ones", RollingCounts{Desired: 4, MaxTasks: 8, MinHealthy: 4, Live: 8, Serving: 4, NewWanted: 4, OldWanted: 4, OldIdle: 1}, 0, 1},
	}
	for _, tt := range tests {
		start, stop := RollingStep(tt.c)
		if start != tt.wantStart || stop != tt.wantStop {
			t.Errorf("%s: RollingStep = start %d, stop %d; want %d, %d", tt.name, start, stop, tt.wantStart, tt.wantStop)
		}
	}
}

func TestCircuitBreakerThreshold(t *testing.T) {
	tests := []struct{ desired, want int }{
		{1, 3}, {2, 3}, {5, 3}, {6, 3}, {7, 4}, {25, 13}, {399, 200}, {400, 200}, {1000, 200},
	}
	for _, tt := range tests {
		if got := CircuitBreakerThreshold(tt.desired); got != tt.want {
			t.Errorf("CircuitBreakerThreshold(%d) = %d; want %d", tt.desired, got, tt.want)
		}
	}
}
