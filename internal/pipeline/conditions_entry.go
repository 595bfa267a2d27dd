package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// verdict is one beforeEntry condition evaluated once.
type verdict struct {
	rule   string
	met    bool
	result string    // ResultRetry or ResultFail
	msg    string    // why it holds or not
	wake   time.Time // when to evaluate again when not met (zero: RetryInterval)
}

// beforeEntry evaluates the Deploy stage's entry conditions until they
// all hold at once, one not met with the FAIL result fails, an admin
// overrides them, or ctx ends.
func (p *Pipeline) beforeEntry(ctx context.Context, x *execution) error {
	set := x.set.Conditions.withDefaults()
	if set.DeployWindow == "" && set.NoOpenAlarm == "" {
		return nil
	}
	x.log.printf("Evaluating the entry conditions of stage %s", StageDeploy)
	lastWait := ""
	for {
		vs := p.evaluateEntry(ctx, x, set)
		now := p.now()
		lastWait = p.recordEntry(ctx, x, vs, now, lastWait)
		var wake time.Time // the earliest re-evaluation a condition not met asks for
		for _, v := range vs {
			switch {
			case v.met:
				continue
			case v.result == ResultFail:
				x.log.printf("Entry condition %s failed: %s", v.rule, v.msg)
				return fmt.Errorf("entry condition %s failed: %s", v.rule, v.msg)
			}
			w := v.wake
			if w.IsZero() {
				w = now.Add(set.RetryInterval)
			}
			if wake.IsZero() || w.Before(wake) {
				wake = w
			}
		}
		if wake.IsZero() {
			x.log.printf("Entry conditions met")
			return nil
		}
		by, err := p.waitEntry(ctx, x, wake.Sub(now))
		if err != nil {
			return err
		}
		if by != "" {
			p.updateConditions(ctx, x, store.ConditionBeforeEntry, func(c *store.Condition) {
				c.Status, c.OverriddenBy, c.EndedAt = store.ConditionOverridden, by, p.now()
			})
			p.updateStage(context.WithoutCancel(ctx), x.id, StageDeploy, store.StageInProgress, "entry conditions overridden by "+by, nil)
			x.log.printf("Entry conditions overridden by %s", by)
			return nil
		}
	}
}

// waitEntry waits d, an override (it returns who overrode), or the end
// of ctx.
func (p *Pipeline) waitEntry(ctx context.Context, x *execution, d time.Duration) (by string, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case by := <-x.override:
		return by, nil
	case <-t.C:
		return "", nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// evaluateEntry evaluates each entry condition once.
func (p *Pipeline) evaluateEntry(ctx context.Context, x *execution, set Conditions) []verdict {
	var vs []verdict
	if set.DeployWindow != "" {
		vs = append(vs, p.evaluateWindow(set))
	}
	if set.NoOpenAlarm != "" {
		vs = append(vs, p.evaluateAlarms(ctx, x.app, set.NoOpenAlarm))
	}
	return vs
}

func (p *Pipeline) evaluateWindow(set Conditions) verdict {
	v := verdict{rule: RuleDeploymentWindow, result: set.WindowResult}
	w, err := ParseWindow(set.DeployWindow, set.TimeZone)
	if err != nil { // checked by SetSettings; only a stored setting cutover no longer reads
		v.result, v.msg = ResultFail, err.Error()
		return v
	}
	now := p.now()
	open, until := w.Status(now)
	switch {
	case open:
		v.met, v.msg = true, "inside the deploy window "+w.String()+" until "+until.In(w.Location()).Format("2006-01-02 15:04 MST")
	case until.IsZero():
		v.result, v.msg = ResultFail, "the deploy window "+w.String()+" never opens"
	default:
		v.wake = until
		v.msg = "outside the deploy window " + w.String() + ": it opens " + until.In(w.Location()).Format("2006-01-02 15:04 MST")
	}
	return v
}

// evaluateAlarms holds when no alarm of the app is in ALARM. An error
// reading them counts as not met: cutover cannot tell.
func (p *Pipeline) evaluateAlarms(ctx context.Context, app, result string) verdict {
	v := verdict{rule: RuleNoOpenAlarm, result: result}
	if p.alarms == nil {
		v.msg = "cutover cannot read the app's alarms"
		return v
	}
	verdicts, err := p.alarms.ProductionAlarms(ctx, app, time.Time{})
	if err != nil {
		v.msg = err.Error()
		return v
	}
	if open := inAlarm(verdicts); len(open) > 0 {
		v.msg = "alarm: " + strings.Join(open, "; ")
		return v
	}
	v.met, v.msg = true, fmt.Sprintf("no alarm open (%d evaluated)", len(verdicts))
	return v
}

// inAlarm returns the reasons of the verdicts in ALARM.
func inAlarm(vs []deploy.AlarmVerdict) []string {
	var reasons []string
	for _, v := range vs {
		if v.State == deploy.AlarmInAlarm {
			reasons = append(reasons, v.Reason)
		}
	}
	return reasons
}

// recordEntry records one evaluation of the entry conditions; they turn
// Succeeded only when all hold at once. While some do not, the Deploy
// stage's message says what it waits for; it returns that message, and
// records and logs it only when it differs from lastWait.
func (p *Pipeline) recordEntry(ctx context.Context, x *execution, vs []verdict, now time.Time, lastWait string) string {
	all := true
	for _, v := range vs {
		all = all && v.met
	}
	p.updateConditions(ctx, x, store.ConditionBeforeEntry, func(c *store.Condition) {
		for _, v := range vs {
			if v.rule != c.Rule {
				continue
			}
			if c.Evaluations == 0 {
				c.Status, c.StartedAt = store.ConditionInProgress, now
			}
			c.Evaluations++
			c.LastEvaluatedAt, c.Message = now, v.msg
			switch {
			case all:
				c.Status, c.EndedAt = store.ConditionSucceeded, now
			case !v.met && v.result == ResultFail:
				c.Status, c.EndedAt = store.ConditionFailed, now
			}
		}
	})
	var waits []string
	for _, v := range vs {
		if !v.met {
			waits = append(waits, v.msg)
		}
	}
	wait := strings.Join(waits, "; ")
	switch {
	case wait != "" && wait != lastWait:
		x.log.printf("Waiting: %s", wait)
		p.updateStage(context.WithoutCancel(ctx), x.id, StageDeploy, store.StageInProgress, "waiting: "+wait, nil)
	case wait == "" && lastWait != "":
		p.updateStage(context.WithoutCancel(ctx), x.id, StageDeploy, store.StageInProgress, "entry conditions met", nil)
	}
	return wait
}

// Override lets an execution that waits for the Deploy stage's entry
// conditions in at once (CodePipeline's OverrideStageCondition); the
// conditions are recorded Overridden, with the actor of ctx. Only an
// admin may call it (the API's route is admin).
func (p *Pipeline) Override(ctx context.Context, id string) error {
	e, err := p.store.GetExecution(ctx, id)
	if err != nil {
		return fmt.Errorf("overriding the conditions of %s: %w", id, err)
	}
	waiting := false
	if st := e.Stage(StageDeploy); st != nil && st.Status == store.StageInProgress {
		for _, c := range st.Conditions {
			waiting = waiting || (c.When == store.ConditionBeforeEntry && c.Status == store.ConditionInProgress)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.lineLocked(e.App).running[id]
	if x == nil || !waiting {
		return fmt.Errorf("overriding the conditions of %s: %w", id, ErrNoConditionWaiting)
	}
	select {
	case x.override <- store.Actor(ctx):
		return nil
	default:
		return fmt.Errorf("overriding the conditions of %s: %w: it was overridden already", id, ErrNoConditionWaiting)
	}
}
