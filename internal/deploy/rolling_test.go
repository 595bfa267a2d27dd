package deploy

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
	"github.com/cutover/cutover/internal/store/storetest"
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

// unitController is a Controller on a fresh store whose goroutines see
// an ended context: tasks it starts or stops give up at once, so a test
// sees what one scheduler pass decided.
func unitController(t *testing.T) *Controller {
	t.Helper()
	st := storetest.Open(t)
	c := New(Options{Store: st, Proxy: proxy.New(proxy.Options{})})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.ctx = ctx
	t.Cleanup(c.wg.Wait)
	return c
}

// TestSchedulerKeepsRollingUpdateWithinMaxPercent: during a rolling
// update, replacing an unhealthy task in one set must not add to the
// tasks the update started in the other beyond max_percent; with no room
// the unhealthy task goes first. Outside rolling updates replacements
// start first.
func TestSchedulerKeepsRollingUpdateWithinMaxPercent(t *testing.T) {
	H, U := store.TaskHealthy, store.TaskUnhealthy
	tests := []struct {
		name      string
		strategy  string // of the active deployment; "" for none
		old, new  []string
		wantStart int
		wantStop  int // unhealthy tasks stopped
	}{
		{"old task unhealthy, no room", config.StrategyRolling, []string{H, H, U}, []string{H}, 0, 1},
		{"new task unhealthy, no room", config.StrategyRolling, []string{H, H, H}, []string{U}, 0, 1},
		{"room for a replacement", config.StrategyRolling, []string{H, U}, []string{H}, 1, 0},
		{"blue/green is not bounded", config.StrategyBlueGreen, []string{H, H, U}, []string{H}, 1, 0},
		{"no deployment: replacement first", "", []string{H, H, U}, nil, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := unitController(t)
			cfg := config.App{Name: "web", Service: config.Service{Count: 3},
				Deploy: config.Deploy{Strategy: config.StrategyRolling, Rolling: config.Rolling{MinHealthyPercent: 50, MaxPercent: 150}}}
			a := &appState{name: "web", cfg: cfg, current: "web-r1"}
			old := unitSet("web-r1", tt.old)
			a.sets = []*taskSet{old}
			if tt.new != nil {
				a.sets = append(a.sets, unitSet("web-r2", tt.new))
			}
			if tt.strategy != "" {
				a.run = &run{d: store.Deployment{Strategy: tt.strategy}, cfg: cfg, app: a, from: old, to: a.sets[1]}
			}
			c.reconcile(c.ctx, a)

			c.mu.Lock()
			defer c.mu.Unlock()
			started, stopped := 0, 0
			for _, s := range a.sets {
				started += s.started // unitSet starts at 0
				for _, task := range s.tasks {
					if task.stopping && task.state == store.TaskUnhealthy {
						stopped++
					}
				}
			}
			if started != tt.wantStart || stopped != tt.wantStop {
				t.Errorf("started %d, stopped %d unhealthy; want %d, %d", started, stopped, tt.wantStart, tt.wantStop)
			}
		})
	}
}

// unitSet is a task set of revision whose tasks are in states, all
// wanted.
func unitSet(revision string, states []string) *taskSet {
	s := &taskSet{rev: store.Revision{ID: revision}, color: colorBlue, desired: len(states)}
	for i, st := range states {
		s.tasks = append(s.tasks, &task{id: fmt.Sprintf("%s-%d", revision, i), addr: fmt.Sprintf("127.0.0.1:%d", i+1), state: st})
	}
	return s
}
