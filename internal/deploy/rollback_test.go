package deploy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// productionShifts returns the replacement's production weights, in order.
func (e *env) productionShifts(d store.Deployment) []int {
	e.t.Helper()
	history, err := e.store.WeightHistory(e.t.Context(), d.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	green := replacementGroup(e.t, d)
	var out []int
	for _, w := range history {
		if w.Listener == "production" {
			out = append(out, w.Weights[green])
		}
	}
	return out
}

func TestFailingHealthCheckRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	l := startLoad(t, e.prodAddr)

	bad := e.appConfig("v2")
	bad.Service.Env["HEALTH"] = "fail"
	d := e.deploy(bad)
	l.checkNoFailures(t)

	if d.Status != store.DeploymentRolledBack || !strings.Contains(d.Error, "Install failed") {
		t.Fatalf("deployment ended %s (%s); want RolledBack by a failed Install", d.Status, d.Error)
	}
	if !strings.Contains(d.Error, "Target.ResponseCodeMismatch") {
		t.Errorf("the deployment's error does not say why the tasks failed: %s", d.Error)
	}
	for _, p := range e.productionShifts(d) {
		if p > 0 {
			t.Errorf("production weights of the replacement: %v; it never became healthy, so want none > 0", e.productionShifts(d))
		}
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("production answers %v, want v1 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.FromRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want 2 of %s only", got, d.FromRevision)
	}
}

func TestErrorRateAlarmRollsBackCanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	l := startLoad(t, e.prodAddr)

	bad := e.appConfig("v2")
	bad.Service.Env["ERROR_RATE"] = "0.3"
	bad.Deploy.Traffic = config.Traffic{Type: config.TrafficCanary, Percent: 10, Interval: 30 * time.Second}
	d := e.deploy(bad)
	l.finish()

	if d.Status != store.DeploymentRolledBack || !strings.Contains(d.Error, "alarm") {
		t.Fatalf("deployment ended %s (%s); want RolledBack by the error-rate alarm", d.Status, d.Error)
	}
	shifts := e.productionShifts(d)
	if len(shifts) < 2 || shifts[0] != 10 || shifts[len(shifts)-1] != 0 {
		t.Errorf("production weights of the replacement: %v; want 10 (canary) then 0 (rollback)", shifts)
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("production answers %v, want v1 only", got)
	}
	l.mu.Lock()
	t.Logf("load: %d requests, %d failed (the canary's injected errors), versions %v", l.sent.Load(), l.failed.Load(), l.versions)
	l.mu.Unlock()
}

func TestFailingTestTrafficHookRollsBackBeforeProductionMoves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	l := startLoad(t, e.prodAddr)

	cfg := e.appConfig("v2")
	cfg.Deploy.Hooks = map[string][]config.Hook{
		store.LifecycleAfterAllowTestTraffic: {
			{Command: []string{"/bin/sh", "-c", `echo "env: $CUTOVER_DEPLOYMENT_ID $CUTOVER_LIFECYCLE_EVENT $CUTOVER_APP $CUTOVER_REVISION $CUTOVER_TEST_URL"; curl -s "$CUTOVER_TEST_URL/" || true`}, Timeout: 10 * time.Second},
			{Command: []string{"/bin/sh", "-c", "echo smoke test failed; exit 3"}, Timeout: 10 * time.Second},
		},
	}
	d := e.deploy(cfg)
	l.checkNoFailures(t)

	if d.Status != store.DeploymentRolledBack || !strings.Contains(d.Error, "AfterAllowTestTraffic") {
		t.Fatalf("deployment ended %s (%s); want RolledBack by the AfterAllowTestTraffic hook", d.Status, d.Error)
	}
	for _, p := range e.productionShifts(d) {
		if p > 0 {
			t.Errorf("production weights of the replacement: %v; want none > 0", e.productionShifts(d))
		}
	}
	log, err := os.ReadFile(HookLogPath(e.dir, d.ID))
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := "env: " + d.ID + " AfterAllowTestTraffic web " + d.ToRevision + " http://" + e.testAddr
	for _, want := range []string{wantEnv, "version v2", "smoke test failed", "exit status 3"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("hook log lacks %q:\n%s", want, log)
		}
	}
	if got := versionsNow(t, e.testAddr, 5); got["v1"] != 5 {
		t.Errorf("after the rollback the test listener answers %v, want v1 only", got)
	}
}

func TestHTTPHookAndHookTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))

	var mu sync.Mutex
	var payloads []HookPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p HookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		payloads = append(payloads, p)
		mu.Unlock()
	}))
	defer srv.Close()

	cfg := e.appConfig("v2")
	cfg.Deploy.Hooks = map[string][]config.Hook{
		store.LifecycleAfterInstall:       {{URL: srv.URL, Timeout: 5 * time.Second}},
		store.LifecycleBeforeAllowTraffic: {{Command: []string{"/bin/sh", "-c", "sleep 30"}, Timeout: time.Second}},
	}
	start := time.Now()
	d := e.deploy(cfg)
	if d.Status != store.DeploymentRolledBack || !strings.Contains(d.Error, "timed out after 1s") {
		t.Fatalf("deployment ended %s (%s); want RolledBack by the timed-out hook", d.Status, d.Error)
	}
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("the deployment took %s: the hung hook was not killed at its timeout", took)
	}
	mu.Lock()
	defer mu.Unlock()
	want := HookPayload{DeploymentID: d.ID, LifecycleEvent: "AfterInstall", App: "web", Revision: d.ToRevision,
		TestURL: "http://" + e.testAddr, ProductionURL: "http://" + e.prodAddr}
	if len(payloads) != 1 || payloads[0] != want {
		t.Errorf("HTTP hook got %+v; want one %+v", payloads, want)
	}
}

func TestManualReadyWaitAndRefusedSecondDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	atStep := func(id, step string) func() bool {
		return func() bool {
			d, err := e.store.GetDeployment(t.Context(), id)
			return err == nil && d.Step == step
		}
	}

	cfg := e.appConfig("v2")
	cfg.Deploy.ReadyWait = config.ReadyWait{Wait: 3 * time.Second, Manual: true}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the ready wait", atStep(d.ID, stepReadyWait))
	if err := e.ctrl.Continue(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		t.Fatalf("continued deployment ended %s (%s); want Succeeded", d.Status, d.Error)
	}

	cfg3 := e.appConfig("v3")
	cfg3.Deploy.ReadyWait = config.ReadyWait{Wait: 2 * time.Second, Manual: true}
	d3, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease})
	if !errors.Is(err, store.ErrDeploymentInProgress) || !strings.Contains(err.Error(), "cutover stop "+d3.ID) {
		t.Errorf("a second Deploy returned %v; want a refusal naming %s and `cutover stop`", err, d3.ID)
	}
	if d3 = e.wait(d3.ID); d3.Status != store.DeploymentStopped || !strings.Contains(d3.Error, "ready wait") {
		t.Fatalf("deployment without continue ended %s (%s); want Stopped at the end of the ready wait", d3.Status, d3.Error)
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v2"] != 10 {
		t.Errorf("production answers %v, want v2 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.ToRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want 2 of %s only", got, d.ToRevision)
	}
}

func TestBeforeInstallFailureCannotRollBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))

	cfg := e.appConfig("v2")
	cfg.Deploy.Hooks = map[string][]config.Hook{
		store.LifecycleBeforeInstall: {{Command: []string{"/bin/sh", "-c", "exit 1"}, Timeout: 5 * time.Second}},
	}
	d := e.deploy(cfg)
	if d.Status != store.DeploymentFailed || !strings.Contains(d.Error, "BeforeInstall") {
		t.Fatalf("deployment ended %s (%s); want Failed at BeforeInstall", d.Status, d.Error)
	}
	events, err := e.store.ListLifecycleEvents(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Name == store.LifecycleRollback || (ev.Name != store.LifecycleBeforeInstall && ev.Status != store.LifecycleSkipped) {
			t.Errorf("event %s is %s; after a failed BeforeInstall nothing else runs", ev.Name, ev.Status)
		}
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.FromRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want 2 of %s only", got, d.FromRevision)
	}
}

// TestStopAndRollbackAreInstant stops one deployment during its canary
// and rolls another back during its termination wait, under load.
func TestStopAndRollbackAreInstant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	l := startLoad(t, e.prodAddr)
	atStep := func(id, step string) func() bool {
		return func() bool {
			d, err := e.store.GetDeployment(t.Context(), id)
			return err == nil && d.Step == step
		}
	}

	cfg := e.appConfig("v2")
	cfg.Deploy.Traffic = config.Traffic{Type: config.TrafficCanary, Percent: 50, Interval: time.Minute}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the canary", atStep(d.ID, store.LifecycleAllowTraffic))
	if err := e.ctrl.Stop(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentStopped {
		t.Fatalf("stopped deployment ended %s (%s)", d.Status, d.Error)
	}
	if err := e.ctrl.Stop(t.Context(), d.ID); !errors.Is(err, ErrNotActive) {
		t.Errorf("stopping an ended deployment: %v; want ErrNotActive", err)
	}

	cfg = e.appConfig("v3")
	cfg.Deploy.TerminationWait = time.Minute
	d, err = e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the termination wait", atStep(d.ID, store.LifecycleTerminationWait))
	if got := versionsNow(t, e.prodAddr, 5); got["v3"] != 5 {
		t.Errorf("during the termination wait production answers %v, want v3 only", got)
	}
	if err := e.ctrl.Rollback(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentRolledBack {
		t.Fatalf("rolled back deployment ended %s (%s)", d.Status, d.Error)
	}
	l.checkNoFailures(t)
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("production answers %v, want v1 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.FromRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want 2 of %s only", got, d.FromRevision)
	}
}

func TestProgressDeadlineFailsAHungStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))

	cfg := e.appConfig("v2")
	cfg.Deploy.ProgressDeadline = 5 * time.Second
	cfg.Deploy.Hooks = map[string][]config.Hook{
		store.LifecycleAfterInstall: {{Command: []string{"/bin/sh", "-c", "sleep 60"}, Timeout: time.Minute}},
	}
	d := e.deploy(cfg)
	if d.Status != store.DeploymentRolledBack || !strings.Contains(d.Error, "progress deadline of 5s exceeded") {
		t.Fatalf("deployment ended %s (%s); want RolledBack at the progress deadline", d.Status, d.Error)
	}
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("production answers %v, want v1 only", got)
	}
}

// A deployment that is refused, or that does not succeed, leaves the app's
// configuration (its count, health check, delays) as it was.
func TestRefusedOrRolledBackDeployLeavesTheAppAsItWas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	stored := func() (int, int) {
		a, err := e.store.GetApp(t.Context(), "web")
		if err != nil {
			t.Fatal(err)
		}
		var cfg config.App
		if err := json.Unmarshal(a.Spec, &cfg); err != nil {
			t.Fatal(err)
		}
		return a.DesiredCount, cfg.Service.Count
	}

	// A deployment in its ready wait holds the app; a second one is refused.
	held := e.appConfig("v2")
	held.Deploy.ReadyWait = config.ReadyWait{Wait: 2 * time.Second, Manual: true}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &held})
	if err != nil {
		t.Fatal(err)
	}
	bigger := e.appConfig("v3")
	bigger.Service.Count = 5
	if _, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &bigger}); !errors.Is(err, store.ErrDeploymentInProgress) {
		t.Fatalf("second Deploy: %v, want ErrDeploymentInProgress", err)
	}
	if desired, count := stored(); desired != 2 || count != 2 {
		t.Errorf("after a refused deploy of count 5 the app has desired %d, count %d; want 2", desired, count)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentStopped {
		t.Fatalf("held deployment ended %s (%s)", d.Status, d.Error)
	}

	// A bigger version whose health check fails is rolled back, count too.
	bad := e.appConfig("v4")
	bad.Service.Count = 3
	bad.Service.Env["HEALTH"] = "fail"
	if d := e.deploy(bad); d.Status != store.DeploymentRolledBack {
		t.Fatalf("failing deployment ended %s (%s), want RolledBack", d.Status, d.Error)
	}
	if desired, count := stored(); desired != 2 || count != 2 {
		t.Errorf("after a rolled-back deploy of count 3 the app has desired %d, count %d; want 2", desired, count)
	}
	waitFor(t, 20*time.Second, "2 live tasks of the original", func() bool {
		live := e.liveTasks("web")
		return len(live) == 1 && live[d.FromRevision] == 2
	})
}
