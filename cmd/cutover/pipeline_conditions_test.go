package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestStartWaitSaysWhatDeployWaitsFor(t *testing.T) {
	var out strings.Builder
	x := &executionWatch{w: &out, e: store.Execution{ID: "hello-e4"}}
	waiting := store.Stage{Name: "Deploy", Status: store.StageInProgress, Message: "waiting: outside the deploy window 09:00-17:00 UTC: it opens 2026-12-05 09:00 UTC"}
	x.conditionWait(waiting)
	x.conditionWait(waiting) // the next poll: nothing new
	x.conditionWait(store.Stage{Name: "Deploy", Status: store.StageInProgress, Message: "entry conditions met"})
	want := "  waiting: outside the deploy window 09:00-17:00 UTC: it opens 2026-12-05 09:00 UTC (cutover pipeline override hello-e4 lets it in now)\n"
	if out.String() != want {
		t.Errorf("printed %q\nwant    %q", out.String(), want)
	}
}

func TestShowListsTheConditions(t *testing.T) {
	var out strings.Builder
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local)
	printStageConditions(&out, store.Execution{Stages: []store.Stage{{Name: "Deploy", Conditions: []store.Condition{
		{When: store.ConditionBeforeEntry, Rule: "DeploymentWindow", Config: "09:00-17:00 UTC", Result: store.ResultRetry,
			Status: store.ConditionOverridden, OverriddenBy: "local", Evaluations: 2, LastEvaluatedAt: at, Message: "outside the deploy window"},
		{When: store.ConditionOnSuccess, Rule: "BakeTime", Config: "10m0s", Result: store.ResultRollback, Status: store.ConditionPending},
	}}}})
	for _, want := range []string{
		"CONDITION", "Deploy DeploymentWindow 09:00-17:00 UTC  beforeEntry  RETRY     Overridden by local  2x, last 2026-12-04 10:00:00  outside the deploy window",
		"Deploy BakeTime 10m0s", "onSuccess    ROLLBACK  Pending",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("pipeline show's conditions lack %q:\n%s", want, out.String())
		}
	}
}
