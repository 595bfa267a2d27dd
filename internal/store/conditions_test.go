package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

func TestStageConditionsAreRecordedWithTheirEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	seedApp(t, s, "hello")
	window := Condition{When: ConditionBeforeEntry, Rule: "DeploymentWindow", Config: "Mon-Fri 09:00-17:00 UTC", Result: ResultRetry, Status: ConditionPending}
	e, err := s.CreateExecution(ctx, Execution{App: "hello", Stages: []Stage{
		{Name: "Source", Status: StagePending},
		{Name: "Deploy", Status: StagePending, Conditions: []Condition{window}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetExecution(ctx, e.ID); len(got.Stage("Deploy").Conditions) != 1 || got.Stage("Deploy").Conditions[0] != window {
		t.Fatalf("created conditions = %+v, want [%+v]", got.Stage("Deploy").Conditions, window)
	}

	wait := func(e *Execution) error {
		c := &e.Stage("Deploy").Conditions[0]
		c.Status, c.Message, c.Evaluations = ConditionInProgress, "waiting for the deploy window", c.Evaluations+1
		return nil
	}
	for range 3 { // the same message again is no new event
		if _, err := s.UpdateExecution(ctx, e.ID, wait); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.UpdateExecution(ctx, e.ID, func(e *Execution) error {
		c := &e.Stage("Deploy").Conditions[0]
		c.Status, c.OverriddenBy = ConditionOverridden, "admin"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ListExecutions(ctx, ExecutionFilter{App: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	c := got[0].Stage("Deploy").Conditions[0]
	if c.Status != ConditionOverridden || c.Evaluations != 3 || c.OverriddenBy != "admin" || c.Message != "waiting for the deploy window" {
		t.Fatalf("listed condition = %+v", c)
	}
	events, err := s.Events(ctx, EventFilter{App: "hello", Types: []string{EventExecutionCondition}})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, ev := range events {
		var ch ConditionChange
		if err := json.Unmarshal(ev.Data, &ch); err != nil || ch.Execution != e.ID || ch.Stage != "Deploy" {
			t.Fatalf("event %s: %+v, %v", ev.Type, ch, err)
		}
		statuses = append(statuses, ch.PreviousStatus+">"+ch.Condition.Status)
	}
	if len(statuses) != 2 || statuses[0] != "Pending>InProgress" || statuses[1] != "InProgress>Overridden" {
		t.Fatalf("condition events = %v, want Pending>InProgress, InProgress>Overridden", statuses)
	}

	_, err = s.UpdateExecution(ctx, e.ID, func(e *Execution) error {
		e.Stage("Deploy").Conditions[0].Status = "Maybe"
		return nil
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("an unknown condition status: err = %v, want ErrInvalid", err)
	}
}
