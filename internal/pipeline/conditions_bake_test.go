package pipeline

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// TestBakeTimeAlarmRollsBackTheRealApp deploys version 2 of the real
// test app behind the real load balancer with a bake time; version 2
// starts answering 500 during it, the app's error-rate alarm goes off,
// version 1 is deployed again and the execution fails with the alarm.
func TestBakeTimeAlarmRollsBackTheRealApp(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.pipe.alarms = h.ctrl
	breakDir := filepath.Join(h.dir, "break")
	os.MkdirAll(breakDir, 0o755)
	yaml := strings.Replace(h.appYAML(), `env: {GREETING:`, `env: {BREAK_DIR: "`+breakDir+`", GREETING:`, 1)
	yaml = strings.Replace(yaml, "rollback: {on_failure: true, alarms: []}",
		"rollback: {on_failure: true, min_requests: 5, alarms: [{metric: error_rate, above: 0.2, for: 5s}]}", 1)
	dir := filepath.Join(t.TempDir(), "web")
	os.MkdirAll(dir, 0o755)
	gitRun(t, dir, "init", "-q", "-b", "main")
	h.commit(dir, "version 1", map[string]string{"cutover.yaml": yaml, "buildspec.yml": buildspec, "version.txt": "1\n"})
	cfg, err := config.LoadApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ctrl.PutApp(ctx, *cfg); err != nil {
		t.Fatal(err)
	}

	e1 := h.wait(h.push(dir).ID)
	if e1.Status != store.ExecutionSucceeded {
		t.Fatalf("version 1: %s (%s)\n%s", e1.Status, e1.Error, h.log(e1.ID))
	}
	d1, err := h.store.GetDeployment(ctx, e1.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.pipe.SetSettings(ctx, "web", Settings{Conditions: Conditions{BakeTime: time.Minute}}); err != nil {
		t.Fatal(err)
	}

	// Load on production throughout, so the alarm has requests to judge.
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			resp, err := client.Get("http://" + h.prodAddr + "/")
			if err == nil && resp.StatusCode == http.StatusOK {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	h.commit(dir, "version 2", map[string]string{"version.txt": "2\n"})
	e2 := h.push(dir)
	waitFor(t, 60*time.Second, "version 2 to bake", func() bool {
		e, err := h.store.GetExecution(ctx, e2.ID)
		return err == nil && e.Stage(StageDeploy).Conditions[0].Status == store.ConditionInProgress
	})
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 2") {
		t.Fatalf("production during the bake: %q, %v; want version 2", body, err)
	}
	okBefore, failedBefore := ok.Load(), failed.Load()
	os.WriteFile(filepath.Join(breakDir, "2"), nil, 0o644) // version 2 answers 500 from now on

	e2 = h.wait(e2.ID)
	c := e2.Stage(StageDeploy).Conditions[0]
	if e2.Status != store.ExecutionFailed || e2.Stage(StageDeploy).Status != store.StageFailed {
		t.Fatalf("execution %s, Deploy %s (%s); want Failed\n%s", e2.Status, e2.Stage(StageDeploy).Status, e2.Error, h.log(e2.ID))
	}
	for _, want := range []string{"Deploy: bake time: alarm: error_rate", "rolled back to " + d1.ToRevision + " by deployment", "(Succeeded)"} {
		if !strings.Contains(e2.Error, want) {
			t.Errorf("execution error %q, want it to contain %q", e2.Error, want)
		}
	}
	if c.Rule != RuleBakeTime || c.Status != store.ConditionFailed || c.Result != store.ResultRollback || c.Evaluations == 0 {
		t.Errorf("bake condition %+v, want Failed with result ROLLBACK", c)
	}
	body, err := h.get()
	if err != nil || !strings.HasPrefix(body, "version 1") {
		t.Fatalf("production after the rollback: %q, %v; want version 1", body, err)
	}
	t.Logf("requests before the break: %d ok, %d failed; from the break to the rollback: %d ok, %d failed",
		okBefore, failedBefore, ok.Load()-okBefore, failed.Load()-failedBefore)
	if failedBefore != 0 {
		t.Errorf("%d requests failed before version 2 broke", failedBefore)
	}
}
