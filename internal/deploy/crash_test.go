package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// TestResumeAfterCrashMidCanary kills the controller during the canary
// (no cleanup: tasks and the deployment stay as they are) and starts a
// new one with a new proxy and driver on the same store and state: it
// serves at once and finishes the deployment.
func TestResumeAfterCrashMidCanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))

	cfg := e.appConfig("v2")
	cfg.Deploy.Traffic = config.Traffic{Type: config.TrafficCanary, Percent: 10, Interval: 4 * time.Second}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the canary", func() bool {
		d, err := e.store.GetDeployment(t.Context(), d.ID)
		return err == nil && slices.Equal(e.productionShifts(d), []int{10})
	})
	e.kill()

	e.startController()
	l := startLoad(t, e.prodAddr)
	d = e.wait(d.ID)
	time.Sleep(300 * time.Millisecond)
	l.checkNoFailures(t)

	if d.Status != store.DeploymentSucceeded {
		t.Fatalf("resumed deployment ended %s: %s", d.Status, d.Error)
	}
	if got := e.productionShifts(d); !slices.Equal(got, []int{10, 100}) {
		t.Errorf("production weights of the replacement: %v; want [10 100]", got)
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v2"] != 10 {
		t.Errorf("production answers %v, want v2 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.ToRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want 2 of %s only", got, d.ToRevision)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.versions["v1"] == 0 || l.versions["v2"] == 0 {
		t.Errorf("versions served after the restart: %v; want both (canary, then all v2)", l.versions)
	}
}

// TestResumeAfterCrashAtEachStep kills the controller while a deployment
// is at a step and checks that a new controller finishes it, serving
// production without failures from its start.
func TestResumeAfterCrashAtEachStep(t *testing.T) {
	for _, step := range []string{store.LifecycleInstall, stepReadyWait, store.LifecycleTerminationWait, store.LifecycleRollback} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.setup(e.appConfig("v1"))
			cfg := e.appConfig("v2")
			cfg.Deploy.ReadyWait.Wait = 2 * time.Second
			cfg.Deploy.TerminationWait = 2 * time.Second
			want, version := store.DeploymentSucceeded, "v2"
			if step == store.LifecycleRollback {
				cfg.Deploy.Hooks = map[string][]config.Hook{
					store.LifecycleAfterAllowTraffic: {{Command: []string{"/bin/sh", "-c", "exit 1"}, Timeout: 5 * time.Second}},
				}
				cfg.Deploy.DeregistrationDelay = 3 * time.Second
				want, version = store.DeploymentRolledBack, "v1"
			}
			d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, step, func() bool {
				d, err := e.store.GetDeployment(t.Context(), d.ID)
				return err == nil && d.Step == step
			})
			e.kill()

			e.startController()
			l := startLoad(t, e.prodAddr)
			d = e.wait(d.ID)
			time.Sleep(300 * time.Millisecond)
			l.checkNoFailures(t)
			if d.Status != want {
				t.Fatalf("resumed deployment ended %s (%s); want %s", d.Status, d.Error, want)
			}
			if got := versionsNow(t, e.prodAddr, 10); got[version] != 10 {
				t.Errorf("production answers %v, want %s only", got, version)
			}
			wantRev := d.ToRevision
			if want == store.DeploymentRolledBack {
				wantRev = d.FromRevision
			}
			if got := e.liveTasks("web"); len(got) != 1 || got[wantRev] != 2 {
				t.Errorf("live tasks by revision: %v; want 2 of %s only", got, wantRev)
			}
		})
	}
}

func TestResumeAfterCrashMidRollingUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rolling := func(version string) config.App {
		cfg := e.appConfig(version)
		cfg.Service.Count = 3
		cfg.Deploy.Strategy = config.StrategyRolling
		cfg.Deploy.Rolling = config.Rolling{MinHealthyPercent: 50, MaxPercent: 100, CircuitBreaker: true}
		cfg.Deploy.DeregistrationDelay = 2 * time.Second
		return cfg
	}
	e.setup(rolling("v1"))
	cfg := rolling("v2")
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a new task", func() bool { return e.liveTasks("web")[d.ToRevision] > 0 })
	e.kill()

	e.startController()
	l := startLoad(t, e.prodAddr)
	d = e.wait(d.ID)
	time.Sleep(300 * time.Millisecond)
	l.checkNoFailures(t)
	if d.Status != store.DeploymentSucceeded {
		t.Fatalf("resumed rolling update ended %s: %s", d.Status, d.Error)
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v2"] != 10 {
		t.Errorf("production answers %v, want v2 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.ToRevision] != 3 {
		t.Errorf("live tasks by revision: %v; want 3 of %s only", got, d.ToRevision)
	}
}

// TestHookRunsAgainAfterCrash kills the controller while a hook runs: the
// new controller runs the hook again and finishes the deployment.
func TestHookRunsAgainAfterCrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	runs := filepath.Join(e.dir, "hook-runs")
	cfg := e.appConfig("v2")
	cfg.Deploy.Hooks = map[string][]config.Hook{
		store.LifecycleAfterInstall: {{Command: []string{"/bin/sh", "-c", "echo run >> " + runs + "; sleep 2"}, Timeout: time.Minute}},
	}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the hook", func() bool {
		_, err := os.Stat(runs)
		return err == nil
	})
	e.kill()

	e.startController()
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		t.Fatalf("resumed deployment ended %s: %s", d.Status, d.Error)
	}
	data, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "run"); n != 2 {
		t.Errorf("the hook ran %d times; want 2 (once before the crash, once after)", n)
	}
}
