package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestExecutionRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, WithClock(fixedClock()))
	seedApp(t, s, "hello")

	e, err := s.CreateExecution(ctx, Execution{App: "hello", Trigger: "push", Branch: "main", Commit: "abc",
		Stages: []Stage{{Name: "Source", Status: StagePending}, {Name: "Build", Status: StagePending}}})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "hello-e1" || e.Status != ExecutionInProgress || !e.EndedAt.IsZero() {
		t.Fatalf("CreateExecution = %+v", e)
	}
	before := countEvents(t, s)

	e, err = s.UpdateExecution(ctx, e.ID, func(e *Execution) error {
		e.Stages[0].Status = StageSucceeded
		e.Stages[1].Status = StageFailed
		e.Stages[1].Message = "npm test exited 1"
		e.Variables = map[string]string{"VERSION": "1.2"}
		e.Status = ExecutionFailed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExecution(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ExecutionFailed || got.EndedAt.IsZero() || got.Variables["VERSION"] != "1.2" ||
		got.Stage("Build").Message != "npm test exited 1" || got.Stage("Source").Status != StageSucceeded {
		t.Fatalf("GetExecution = %+v", got)
	}
	// Two stage events and one status event.
	events, err := s.Events(ctx, EventFilter{App: "hello", Types: []string{EventExecutionStage, EventExecutionStatus}})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || countEvents(t, s) != before+3 {
		t.Fatalf("events = %d (%d new in all), want 3", len(events), countEvents(t, s)-before)
	}

	_, err = s.UpdateExecution(ctx, e.ID, func(e *Execution) error { e.Error = "late"; return nil })
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("updating an ended execution: err = %v, want ErrConflict", err)
	}

	e2, err := s.CreateExecution(ctx, Execution{App: "hello", Stages: []Stage{{Name: "Source", Status: StagePending}}})
	if err != nil || e2.ID != "hello-e2" {
		t.Fatalf("second execution = %+v, %v", e2, err)
	}
	active, err := s.ListExecutions(ctx, ExecutionFilter{App: "hello", Active: true})
	if err != nil || len(active) != 1 || active[0].ID != "hello-e2" {
		t.Fatalf("active executions = %+v, %v", active, err)
	}
	all, err := s.ListExecutions(ctx, ExecutionFilter{App: "hello"})
	if err != nil || len(all) != 2 || all[0].ID != "hello-e2" || len(all[1].Stages) != 2 {
		t.Fatalf("all executions = %+v, %v", all, err)
	}
}

func TestExecutionRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "hello")
	tests := []struct {
		name string
		e    Execution
		want error
	}{
		{"unknown app", Execution{App: "nope"}, ErrNotFound},
		{"bad status", Execution{App: "hello", Status: "Running"}, ErrInvalid},
		{"bad stage status", Execution{App: "hello", Stages: []Stage{{Name: "Build", Status: "Done"}}}, ErrInvalid},
		{"unnamed stage", Execution{App: "hello", Stages: []Stage{{Status: StagePending}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.CreateExecution(ctx, tt.e); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	e, err := s.CreateExecution(ctx, Execution{App: "hello", Stages: []Stage{{Name: "Build", Status: StagePending}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateExecution(ctx, e.ID, func(e *Execution) error {
		e.Stages = append(e.Stages, Stage{Name: "Deploy", Status: StagePending})
		return nil
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("adding a stage: err = %v, want ErrInvalid", err)
	}
}

func TestPipelineSettings(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "hello")
	if _, err := s.GetPipeline(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetPipeline before Put: %v", err)
	}
	if _, err := s.PutPipeline(ctx, Pipeline{App: "hello", Secret: "s3cret", Settings: []byte(`{"mode":"QUEUED"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPipeline(ctx, Pipeline{App: "hello", Secret: "other", Settings: []byte(`{"mode":"SUPERSEDED"}`)}); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetPipeline(ctx, "hello")
	if err != nil || p.Secret != "other" || string(p.Settings) != `{"mode":"SUPERSEDED"}` || p.CreatedAt.IsZero() {
		t.Fatalf("GetPipeline = %+v, %v", p, err)
	}
	events, _ := s.Events(ctx, EventFilter{Types: []string{EventPipelineUpdated}})
	for _, ev := range events {
		if string(ev.Data) == "" || strings.Contains(string(ev.Data), "s3cret") || strings.Contains(string(ev.Data), "other") {
			t.Fatalf("pipeline.updated event leaks the secret: %s", ev.Data)
		}
	}
	if _, err := s.PutPipeline(ctx, Pipeline{App: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PutPipeline of an unknown app: %v", err)
	}
}

func TestExecutionKeepsItsTrigger(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "hello")
	by := &TriggerInfo{Kind: TriggerKindPullRequest, Ref: "refs/pull/42/head", Commit: "0123456789abcdef0123456789abcdef01234567",
		ChangedFiles: 3, PullRequest: &PullRequest{Number: 42, Action: "open", Branch: "feature/x", Base: "main"}}
	e, err := s.CreateExecution(ctx, Execution{App: "hello", Trigger: "webhook", TriggeredBy: by,
		Stages: []Stage{{Name: "Source", Status: StagePending}}})
	if err != nil {
		t.Fatal(err)
	}
	// An update cannot change what triggered the execution.
	if _, err := s.UpdateExecution(ctx, e.ID, func(e *Execution) error { e.TriggeredBy = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExecution(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TriggeredBy == nil || got.TriggeredBy.ChangedFiles != 3 || got.TriggeredBy.PullRequest == nil ||
		*got.TriggeredBy.PullRequest != *by.PullRequest || got.TriggeredBy.Ref != by.Ref {
		t.Fatalf("TriggeredBy = %+v, want %+v", got.TriggeredBy, by)
	}
	manual, err := s.CreateExecution(ctx, Execution{App: "hello", Stages: []Stage{{Name: "Source", Status: StagePending}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetExecution(ctx, manual.ID); got.TriggeredBy != nil {
		t.Fatalf("a manual execution's TriggeredBy = %+v, want nil", got.TriggeredBy)
	}
}
