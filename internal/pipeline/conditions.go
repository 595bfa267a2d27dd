package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// Stage conditions are CodePipeline V2's conditions of the Deploy stage.
// Before entry (beforeEntry), every condition set must hold at once: the
// deploy window is open and no alarm of the app is in ALARM. One that
// does not gives its result: FAIL fails the stage, RETRY waits (until
// the window opens, or RetryInterval) and evaluates them all again. An
// admin's Override lets a waiting execution in at once. After the
// deployment succeeded (onSuccess), a bake time watches the app's alarms;
// one in ALARM deploys the revision that ran before again (ROLLBACK) and
// fails the stage.
//
// The conditions are evaluated once the execution holds the Deploy
// stage, as CodePipeline evaluates a stage's entry conditions, so one
// execution waits in the stage and newer ones wait in front of it (and
// supersede each other there in SUPERSEDED mode).

// Rules of the conditions (CodePipeline's rule types are DeploymentWindow
// and CloudWatchAlarm).
const (
	RuleDeploymentWindow = "DeploymentWindow"
	RuleNoOpenAlarm      = "NoOpenAlarm"
	RuleBakeTime         = "BakeTime"
)

// Results a beforeEntry condition can give, as settings spell them.
const (
	ResultRetry = "retry" // wait and evaluate again
	ResultFail  = "fail"  // fail the Deploy stage
)

// DefaultRetryInterval is how often a waiting condition is evaluated
// again (a deploy window also at its opening).
const DefaultRetryInterval = time.Minute

// ErrNoConditionWaiting: Override found no condition to override.
var ErrNoConditionWaiting = errors.New("execution is not waiting for a stage condition")

// Conditions are the Deploy stage's conditions; the zero value has none.
type Conditions struct {
	// DeployWindow, when set, lets executions into Deploy only inside
	// it (see Window for the syntax), in TimeZone (IANA; default UTC).
	DeployWindow string `json:"deploy_window,omitempty"`
	TimeZone     string `json:"time_zone,omitempty"`
	// WindowResult is what an execution outside the window gets:
	// ResultRetry (the default: it waits for the window) or ResultFail.
	WindowResult string `json:"window_result,omitempty"`
	// NoOpenAlarm, ResultRetry or ResultFail, keeps executions out of
	// Deploy while an alarm of the app (cutover.yaml's
	// deploy.rollback.alarms on production) is in ALARM; "" is off.
	NoOpenAlarm string `json:"no_open_alarm,omitempty"`
	// RetryInterval is how often waiting conditions are evaluated again;
	// default DefaultRetryInterval.
	RetryInterval time.Duration `json:"retry_interval,omitempty"`
	// BakeTime, when positive, watches the app's alarms for that long
	// after the deployment succeeded; an alarm rolls it back.
	BakeTime time.Duration `json:"bake_time,omitempty"`
}

// AlarmController is what the conditions need of the deployment
// controller (*deploy.Controller implements it).
type AlarmController interface {
	ProductionAlarms(ctx context.Context, app string, since time.Time) ([]deploy.AlarmVerdict, error)
	RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error)
}

func (c Conditions) withDefaults() Conditions {
	if c.DeployWindow != "" && c.WindowResult == "" {
		c.WindowResult = ResultRetry
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	return c
}

// Check returns what is wrong with the conditions, naming the setting.
func (c Conditions) Check() error {
	if c.DeployWindow != "" || c.TimeZone != "" {
		if _, err := ParseWindow(c.DeployWindow, c.TimeZone); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{{"window_result", c.WindowResult}, {"no_open_alarm", c.NoOpenAlarm}} {
		if f.v != "" && f.v != ResultRetry && f.v != ResultFail {
			return fmt.Errorf("%s %q: use %s or %s", f.name, f.v, ResultRetry, ResultFail)
		}
	}
	switch {
	case c.RetryInterval < 0 || (c.RetryInterval > 0 && c.RetryInterval < time.Second):
		return fmt.Errorf("retry interval %s: use at least 1s (default %s)", c.RetryInterval, DefaultRetryInterval)
	case c.BakeTime < 0 || (c.BakeTime > 0 && c.BakeTime < time.Second) || c.BakeTime > 24*time.Hour:
		return fmt.Errorf("bake time %s: use 0 (off) or 1s to 24h", c.BakeTime)
	}
	return nil
}

// records are the conditions as the Deploy stage records them, Pending.
func (c Conditions) records() []store.Condition {
	var rs []store.Condition
	if c.DeployWindow != "" {
		w, err := ParseWindow(c.DeployWindow, c.TimeZone)
		if err == nil {
			rs = append(rs, store.Condition{When: store.ConditionBeforeEntry, Rule: RuleDeploymentWindow, Config: w.String(),
				Result: storeResult(c.WindowResult), Status: store.ConditionPending})
		}
	}
	if c.NoOpenAlarm != "" {
		rs = append(rs, store.Condition{When: store.ConditionBeforeEntry, Rule: RuleNoOpenAlarm,
			Result: storeResult(c.NoOpenAlarm), Status: store.ConditionPending})
	}
	if c.BakeTime > 0 {
		rs = append(rs, store.Condition{When: store.ConditionOnSuccess, Rule: RuleBakeTime, Config: c.BakeTime.String(),
			Result: store.ResultRollback, Status: store.ConditionPending})
	}
	return rs
}

func storeResult(r string) string {
	if r == ResultFail {
		return store.ResultFail
	}
	return store.ResultRetry
}

// conditionedDeploy is the Deploy stage with its conditions: the
// beforeEntry ones, the deployment, then the bake time.
func (p *Pipeline) conditionedDeploy(ctx context.Context, x *execution, w *workspace) error {
	if err := p.beforeEntry(ctx, x); err != nil {
		return err
	}
	if err := p.deployStage(ctx, x, w); err != nil {
		return err
	}
	if err := p.bake(ctx, x, w.deployment); err != nil {
		return err
	}
	if bt := x.set.Conditions.BakeTime; bt > 0 {
		w.stageMessage += fmt.Sprintf("; no alarm in the %s bake time", bt)
	}
	return nil
}

// updateConditions applies fn to each of the Deploy stage's conditions
// evaluated when (beforeEntry or onSuccess) and records them.
func (p *Pipeline) updateConditions(ctx context.Context, x *execution, when string, fn func(*store.Condition)) {
	p.update(context.WithoutCancel(ctx), x.id, func(e *store.Execution) {
		st := e.Stage(StageDeploy)
		if st == nil {
			return
		}
		for i := range st.Conditions {
			if st.Conditions[i].When == when {
				fn(&st.Conditions[i])
			}
		}
	})
}

// skipConditions marks the conditions a stage never evaluated Skipped.
func skipConditions(st *store.Stage) {
	for i := range st.Conditions {
		if c := &st.Conditions[i]; c.Status == store.ConditionPending || c.Status == store.ConditionInProgress {
			c.Status = store.ConditionSkipped
		}
	}
}
