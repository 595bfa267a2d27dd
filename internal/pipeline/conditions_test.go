package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// conditionsDeployer answers the Deploy stage (each deployment succeeds
// at once, replacing revision web-r1) and the conditions: the app's
// alarm is in ALARM while alarm is set.
type conditionsDeployer struct {
	mu        sync.Mutex
	deployed  []time.Time // when each Deploy was called
	alarm     bool
	rolledTo  []string
	evaluated int
}

func (d *conditionsDeployer) Deploy(ctx context.Context, app string, spec deploy.RevisionSpec) (store.Deployment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deployed = append(d.deployed, time.Now())
	return store.Deployment{ID: "web-d9", App: app, FromRevision: "web-r1", Status: store.DeploymentInProgress}, nil
}

func (d *conditionsDeployer) Wait(ctx context.Context, id string) (store.Deployment, error) {
	return store.Deployment{ID: id, FromRevision: "web-r1", Status: store.DeploymentSucceeded}, nil
}

func (d *conditionsDeployer) ProductionAlarms(ctx context.Context, app string, since time.Time) ([]deploy.AlarmVerdict, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evaluated++
	if d.alarm {
		return []deploy.AlarmVerdict{{State: deploy.AlarmInAlarm, Reason: "error_rate 50.00% of production is above 5.00%"}}, nil
	}
	return []deploy.AlarmVerdict{{State: deploy.AlarmOK}}, nil
}

func (d *conditionsDeployer) RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rolledTo = append(d.rolledTo, revision)
	return store.Deployment{ID: "web-d10", App: app, Status: store.DeploymentInProgress}, nil
}

func (d *conditionsDeployer) state() (deployed []time.Time, rolledTo []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.deployed...), append([]string(nil), d.rolledTo...)
}

func (d *conditionsDeployer) setAlarm(on bool) {
	d.mu.Lock()
	d.alarm = on
	d.mu.Unlock()
}

// conditionsRepo is a repository with an app without a buildspec, made
// outside the bubble (git runs as a process).
func conditionsRepo(t *testing.T) (repo string, spec []byte) {
	repo = t.TempDir()
	yaml := "name: web\nservice: {command: [./web], port: 8080}\nlisteners: {production: \"127.0.0.1:1\"}\n"
	os.WriteFile(filepath.Join(repo, "cutover.yaml"), []byte(yaml), 0o644)
	gitRun(t, repo, "init", "-q", "-b", "main")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "web")
	cfg, err := config.LoadApp(repo)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ = json.Marshal(cfg)
	return repo, spec
}

// inBubble runs fn with a running pipeline on a fake clock (synctest
// starts it at 2000-01-01 00:00 UTC, a Saturday) whose app web has the
// conditions.
func inBubble(t *testing.T, conds Conditions, fn func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer)) {
	_, spec := conditionsRepo(t)
	dataDir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, err := store.Open(ctx, filepath.Join(dataDir, "cutover.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.PutApp(ctx, store.App{Name: "web", Spec: spec}); err != nil {
			t.Fatal(err)
		}
		dep := &conditionsDeployer{}
		p := New(Options{Store: st, Deployer: dep, Alarms: dep, DataDir: dataDir})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()
		defer func() { cancel(); <-done }()
		<-p.Started()
		if err := p.SetSettings(ctx, "web", Settings{Conditions: conds}); err != nil {
			t.Fatal(err)
		}
		fn(ctx, p, st, dep)
	})
}

func getExecution(t *testing.T, st *store.Store, id string) (store.Execution, *store.Stage) {
	t.Helper()
	e, err := st.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e, e.Stage(StageDeploy)
}

func TestDeployWindowWaitsUntilItOpens(t *testing.T) {
	inBubble(t, Conditions{DeployWindow: "Mon-Fri 09:00-17:00", TimeZone: "Europe/Berlin"}, func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer) {
		e, err := p.Start(ctx, "web", StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // built, and waiting in front of Deploy

		e, deployStage := getExecution(t, st, e.ID)
		c := deployStage.Conditions[0]
		if deployed, _ := dep.state(); len(deployed) != 0 || e.Status != store.ExecutionInProgress ||
			deployStage.Status != store.StageInProgress || c.Status != store.ConditionInProgress || c.Evaluations != 1 {
			t.Fatalf("on Saturday: deployed %v, execution %s, Deploy %s, condition %+v; want it waiting", deployed, e.Status, deployStage.Status, c)
		}
		wantMsg := "outside the deploy window Mon-Fri 09:00-17:00 Europe/Berlin: it opens 2000-01-03 09:00 CET"
		if c.Message != wantMsg || deployStage.Message != "waiting: "+wantMsg || c.Result != store.ResultRetry {
			t.Fatalf("condition message %q, stage message %q, result %s; want %q", c.Message, deployStage.Message, c.Result, wantMsg)
		}
		events, _ := st.Events(ctx, store.EventFilter{App: "web", Types: []string{store.EventExecutionCondition}})
		if len(events) != 1 {
			t.Fatalf("%d pipeline.condition events, want 1 (waiting)", len(events))
		}

		opens := time.Date(2000, 1, 3, 8, 0, 0, 0, time.UTC) // 09:00 in Berlin
		time.Sleep(opens.Add(-time.Second).Sub(time.Now()))
		synctest.Wait()
		if deployed, _ := dep.state(); len(deployed) != 0 {
			t.Fatalf("deployed at %v, before the window opened", deployed)
		}
		time.Sleep(time.Second)
		synctest.Wait()

		e, deployStage = getExecution(t, st, e.ID)
		c = deployStage.Conditions[0]
		deployed, _ := dep.state()
		if len(deployed) != 1 || !deployed[0].Equal(opens) || e.Status != store.ExecutionSucceeded {
			t.Fatalf("deployed %v, execution %s (%s); want one deployment at %s", deployed, e.Status, e.Error, opens)
		}
		if c.Status != store.ConditionSucceeded || c.Evaluations != 2 || !c.EndedAt.Equal(opens) || !strings.HasPrefix(c.Message, "inside the deploy window") {
			t.Fatalf("condition %+v, want Succeeded after 2 evaluations at %s", c, opens)
		}
	})
}

func TestOverrideLetsAWaitingExecutionIn(t *testing.T) {
	inBubble(t, Conditions{DeployWindow: "Mon 09:00-10:00"}, func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer) {
		e, err := p.Start(ctx, "web", StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Override(ctx, e.ID); !errors.Is(err, ErrNoConditionWaiting) {
			t.Fatalf("override before the conditions are evaluated: %v, want ErrNoConditionWaiting", err)
		}
		synctest.Wait()
		time.Sleep(time.Hour)
		if err := p.Override(store.WithActor(ctx, "token:alice"), e.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		e, deployStage := getExecution(t, st, e.ID)
		c := deployStage.Conditions[0]
		if deployed, _ := dep.state(); len(deployed) != 1 || e.Status != store.ExecutionSucceeded {
			t.Fatalf("after the override: deployed %v, execution %s (%s)", deployed, e.Status, e.Error)
		}
		if c.Status != store.ConditionOverridden || c.OverriddenBy != "token:alice" || !c.EndedAt.Equal(time.Date(2000, 1, 1, 1, 0, 0, 0, time.UTC)) {
			t.Fatalf("condition %+v, want Overridden by token:alice at 01:00", c)
		}
		if err := p.Override(ctx, e.ID); !errors.Is(err, ErrNoConditionWaiting) {
			t.Fatalf("override of an ended execution: %v, want ErrNoConditionWaiting", err)
		}
	})
}

func TestNoOpenAlarm(t *testing.T) {
	t.Run("retry waits for the alarm to close", func(t *testing.T) {
		inBubble(t, Conditions{NoOpenAlarm: ResultRetry, RetryInterval: 30 * time.Second}, func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer) {
			dep.setAlarm(true)
			start := time.Now()
			e, err := p.Start(ctx, "web", StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			time.Sleep(5 * time.Minute)
			synctest.Wait()
			_, deployStage := getExecution(t, st, e.ID)
			if deployed, _ := dep.state(); len(deployed) != 0 || !strings.Contains(deployStage.Message, "waiting: alarm: error_rate 50.00%") {
				t.Fatalf("with the alarm open: deployed %v, stage message %q", deployed, deployStage.Message)
			}
			dep.setAlarm(false)
			time.Sleep(30 * time.Second)
			synctest.Wait()
			e, deployStage = getExecution(t, st, e.ID)
			c := deployStage.Conditions[0]
			deployed, _ := dep.state()
			if len(deployed) != 1 || deployed[0].Sub(start) != 5*time.Minute+30*time.Second || e.Status != store.ExecutionSucceeded {
				t.Fatalf("deployed %v (start %s), execution %s; want one deployment 5m30s after the start", deployed, start, e.Status)
			}
			if c.Status != store.ConditionSucceeded || c.Evaluations != 12 {
				t.Fatalf("condition %+v, want Succeeded after 12 evaluations (every 30s for 5m30s)", c)
			}
		})
	})
	t.Run("fail fails the stage", func(t *testing.T) {
		inBubble(t, Conditions{NoOpenAlarm: ResultFail}, func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer) {
			dep.setAlarm(true)
			e, err := p.Start(ctx, "web", StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			e, deployStage := getExecution(t, st, e.ID)
			c := deployStage.Conditions[0]
			if deployed, _ := dep.state(); len(deployed) != 0 || e.Status != store.ExecutionFailed ||
				!strings.Contains(e.Error, "entry condition NoOpenAlarm failed: alarm: error_rate") || c.Status != store.ConditionFailed {
				t.Fatalf("deployed %v, execution %s (%s), condition %+v; want Failed without a deployment", deployed, e.Status, e.Error, c)
			}
		})
	})
}

func TestBakeTime(t *testing.T) {
	t.Run("no alarm: the stage succeeds after it", func(t *testing.T) {
		inBubble(t, Conditions{BakeTime: 10 * time.Minute}, func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer) {
			e, err := p.Start(ctx, "web", StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			time.Sleep(10*time.Minute - time.Second)
			synctest.Wait()
			if e, _ := getExecution(t, st, e.ID); e.Status != store.ExecutionInProgress {
				t.Fatalf("execution %s before the end of the bake time", e.Status)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			e, deployStage := getExecution(t, st, e.ID)
			c := deployStage.Conditions[0]
			if e.Status != store.ExecutionSucceeded || c.Status != store.ConditionSucceeded || c.Evaluations != 600 || c.When != store.ConditionOnSuccess {
				t.Fatalf("execution %s, condition %+v; want Succeeded after 600 evaluations (every second)", e.Status, c)
			}
		})
	})
	t.Run("an alarm rolls back", func(t *testing.T) {
		inBubble(t, Conditions{BakeTime: 10 * time.Minute}, func(ctx context.Context, p *Pipeline, st *store.Store, dep *conditionsDeployer) {
			e, err := p.Start(ctx, "web", StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			time.Sleep(2 * time.Minute)
			dep.setAlarm(true)
			time.Sleep(time.Second)
			synctest.Wait()
			e, deployStage := getExecution(t, st, e.ID)
			c := deployStage.Conditions[0]
			_, rolledTo := dep.state()
			if len(rolledTo) != 1 || rolledTo[0] != "web-r1" || e.Status != store.ExecutionFailed || deployStage.Status != store.StageFailed {
				t.Fatalf("rolled back to %v, execution %s, Deploy %s; want a rollback to web-r1 and Failed", rolledTo, e.Status, deployStage.Status)
			}
			want := "bake time: alarm: error_rate 50.00% of production is above 5.00%; rolled back to web-r1 by deployment web-d10 (Succeeded)"
			if !strings.Contains(e.Error, want) || c.Status != store.ConditionFailed || c.Result != store.ResultRollback {
				t.Fatalf("error %q, condition %+v; want %q", e.Error, c, want)
			}
		})
	})
}

func TestConditionsSettingsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		c    Conditions
		want string
	}{
		{Conditions{DeployWindow: "Mon-Fry 09:00-17:00"}, `column 5: unknown day "Fry"`},
		{Conditions{DeployWindow: "Mon-Fri 09:00-17:00", TimeZone: "Mars/Olympus"}, `time zone "Mars/Olympus"`},
		{Conditions{TimeZone: "UTC"}, "deploy window is empty"},
		{Conditions{DeployWindow: "09:00-17:00", WindowResult: "rollback"}, `window_result "rollback": use retry or fail`},
		{Conditions{NoOpenAlarm: "yes"}, `no_open_alarm "yes": use retry or fail`},
		{Conditions{RetryInterval: time.Millisecond}, "retry interval 1ms: use at least 1s"},
		{Conditions{BakeTime: 48 * time.Hour}, "bake time 48h0m0s: use 0 (off) or 1s to 24h"},
	} {
		if err := (Settings{Conditions: tc.c}).check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check(%+v) = %v, want an error with %q", tc.c, err, tc.want)
		}
	}
}

func TestRestartSkipsTheConditionsOfAnInterruptedExecution(t *testing.T) {
	_, spec := conditionsRepo(t)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutApp(ctx, store.App{Name: "web", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	e, err := st.CreateExecution(ctx, store.Execution{App: "web", Stages: []store.Stage{{Name: StageDeploy, Status: store.StageInProgress,
		Conditions: []store.Condition{{When: store.ConditionBeforeEntry, Rule: RuleDeploymentWindow, Result: store.ResultRetry, Status: store.ConditionInProgress}}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{Store: st, Deployer: &conditionsDeployer{}, DataDir: t.TempDir()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	<-p.Started()
	cancel()
	<-done
	e, deployStage := getExecution(t, st, e.ID)
	if e.Status != store.ExecutionFailed || deployStage.Conditions[0].Status != store.ConditionSkipped {
		t.Fatalf("after a restart: execution %s, condition %+v; want Failed, Skipped", e.Status, deployStage.Conditions[0])
	}
}
