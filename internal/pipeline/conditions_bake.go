package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// bakeRecordEvery is how often a bake's evaluations are recorded while
// nothing happens (they are evaluated every second).
const bakeRecordEvery = 10

// bake watches the app's alarms on production for the bake time after
// the Deploy stage's deployment succeeded, every second. An alarm in
// ALARM rolls back: the revision that ran before the deployment is
// deployed again through the app's normal strategy (the controller's
// RollbackTo: the deployment has ended, its original task set is gone,
// so the controller's own rollback no longer applies), and the stage
// fails with the alarm's reason.
func (p *Pipeline) bake(ctx context.Context, x *execution, dep store.Deployment) error {
	bt := x.set.Conditions.BakeTime
	if bt <= 0 {
		return nil
	}
	bg := context.WithoutCancel(ctx)
	started := p.now()
	p.updateConditions(ctx, x, store.ConditionOnSuccess, func(c *store.Condition) {
		c.Status, c.StartedAt, c.Message = store.ConditionInProgress, started, fmt.Sprintf("watching the app's alarms for %s", bt)
	})
	p.updateStage(bg, x.id, StageDeploy, store.StageInProgress, fmt.Sprintf("deployment %s Succeeded; baking for %s", dep.ID, bt), nil)
	x.log.printf("Baking for %s: watching the app's alarms on production", bt)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	evals := 0
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
		if p.alarms == nil {
			return p.failBake(ctx, x, "cutover cannot read the app's alarms", evals)
		}
		verdicts, err := p.alarms.ProductionAlarms(ctx, x.app, started)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return p.failBake(ctx, x, "reading the app's alarms: "+err.Error(), evals)
		}
		evals++
		if open := inAlarm(verdicts); len(open) > 0 {
			return p.rollBackAfterBake(ctx, x, dep, strings.Join(open, "; "), evals)
		}
		if p.now().Sub(started) >= bt {
			msg := fmt.Sprintf("no alarm in %s (%d evaluations)", bt, evals)
			p.endBake(ctx, x, store.ConditionSucceeded, msg, evals)
			x.log.printf("Bake time over: %s", msg)
			return nil
		}
		if evals%bakeRecordEvery == 0 {
			now := p.now()
			p.updateConditions(ctx, x, store.ConditionOnSuccess, func(c *store.Condition) {
				c.Evaluations, c.LastEvaluatedAt = evals, now
			})
		}
	}
}

// rollBackAfterBake deploys the revision dep replaced again and returns
// the stage's error.
func (p *Pipeline) rollBackAfterBake(ctx context.Context, x *execution, dep store.Deployment, reason string, evals int) error {
	bg := context.WithoutCancel(ctx) // a stop now must not leave the rollback half done
	x.log.printf("Alarm during the bake time: %s", reason)
	if dep.FromRevision == "" {
		return p.failBake(ctx, x, "alarm: "+reason+"; nothing to roll back to: it was the app's first deployment", evals)
	}
	if p.alarms == nil {
		return p.failBake(ctx, x, "alarm: "+reason+"; cutover cannot roll back", evals)
	}
	rb, err := p.alarms.RollbackTo(bg, x.app, dep.FromRevision)
	if err != nil {
		return p.failBake(ctx, x, fmt.Sprintf("alarm: %s; rolling back to %s failed: %v", reason, dep.FromRevision, err), evals)
	}
	p.updateStage(bg, x.id, StageDeploy, store.StageInProgress, "alarm during the bake time: rolling back by deployment "+rb.ID, nil)
	x.log.printf("Rolling back to %s: deployment %s", dep.FromRevision, rb.ID)
	rb, err = p.deployer.Wait(bg, rb.ID)
	if err != nil {
		return p.failBake(ctx, x, fmt.Sprintf("alarm: %s; following rollback deployment %s: %v", reason, rb.ID, err), evals)
	}
	x.log.printf("Rollback deployment %s ended %s%s", rb.ID, rb.Status, suffix(rb.Error))
	return p.failBake(ctx, x, fmt.Sprintf("alarm: %s; rolled back to %s by deployment %s (%s)", reason, dep.FromRevision, rb.ID, rb.Status), evals)
}

// failBake records the bake time Failed and returns the stage's error.
func (p *Pipeline) failBake(ctx context.Context, x *execution, msg string, evals int) error {
	p.endBake(ctx, x, store.ConditionFailed, msg, evals)
	return errors.New("bake time: " + msg)
}

func (p *Pipeline) endBake(ctx context.Context, x *execution, status, msg string, evals int) {
	now := p.now()
	p.updateConditions(ctx, x, store.ConditionOnSuccess, func(c *store.Condition) {
		c.Status, c.Message, c.Evaluations, c.LastEvaluatedAt, c.EndedAt = status, msg, evals, now, now
	})
}
