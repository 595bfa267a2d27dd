package deploy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

func TestRollingUpdateUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rolling := func(version string) config.App {
		cfg := e.appConfig(version)
		cfg.Service.Count = 3
		cfg.Deploy.Strategy = config.StrategyRolling
		cfg.Deploy.Rolling = config.Rolling{MinHealthyPercent: 50, MaxPercent: 150, CircuitBreaker: true}
		return cfg
	}
	e.setup(rolling("v1"))
	maxTasks, minHealthy, err := RollingBounds(3, 50, 150)
	if err != nil || maxTasks != 4 || minHealthy != 2 {
		t.Fatalf("RollingBounds(3, 50, 150) = %d, %d, %v", maxTasks, minHealthy, err)
	}

	// Sample the proxy's healthy targets and the runtime's running tasks
	// while the update runs.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var fewestHealthy, mostRunning = 1 << 30, 0
	wg.Go(func() {
		for ctx.Err() == nil {
			fewestHealthy = min(fewestHealthy, e.healthyTargets())
			tasks, err := e.driver.List(ctx)
			if err == nil {
				n := 0
				for _, task := range tasks {
					if task.Running {
						n++
					}
				}
				mostRunning = max(mostRunning, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	l := startLoad(t, e.prodAddr)
	time.Sleep(300 * time.Millisecond)
	d := e.deploy(rolling("v2"))
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	l.checkNoFailures(t)

	if d.Status != store.DeploymentSucceeded {
		t.Fatalf("rolling update ended %s: %s", d.Status, d.Error)
	}
	if fewestHealthy < minHealthy {
		t.Errorf("healthy targets dropped to %d; min healthy is %d", fewestHealthy, minHealthy)
	}
	if mostRunning > maxTasks {
		t.Errorf("%d tasks ran at once; max is %d", mostRunning, maxTasks)
	}
	t.Logf("healthy targets never below %d, at most %d tasks running", fewestHealthy, mostRunning)
	if got := versionsNow(t, e.prodAddr, 10); got["v2"] != 10 {
		t.Errorf("production answers %v, want v2 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.ToRevision] != 3 {
		t.Errorf("live tasks by revision: %v; want 3 of %s only", got, d.ToRevision)
	}
}

func TestRollingCircuitBreakerRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rolling := func(version string) config.App {
		cfg := e.appConfig(version)
		cfg.Deploy.Strategy = config.StrategyRolling
		return cfg
	}
	e.setup(rolling("v1"))
	l := startLoad(t, e.prodAddr)

	bad := rolling("v2")
	bad.Service.Env["HEALTH"] = "fail"
	d := e.deploy(bad)
	l.checkNoFailures(t)

	if d.Status != store.DeploymentRolledBack {
		t.Fatalf("rolling update ended %s (%s); want RolledBack by the circuit breaker", d.Status, d.Error)
	}
	if !strings.Contains(d.Error, "Target.ResponseCodeMismatch") {
		t.Errorf("the deployment's error does not say why the tasks failed: %s", d.Error)
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("production answers %v, want v1 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.FromRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want 2 of %s only", got, d.FromRevision)
	}
}
