package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// When a stage condition is evaluated, CodePipeline's names.
const (
	ConditionBeforeEntry = "beforeEntry" // before the stage is entered
	ConditionOnSuccess   = "onSuccess"   // after the stage succeeded
)

// Results of a condition that is not met, CodePipeline's.
const (
	ResultFail     = "FAIL"     // the stage fails
	ResultRetry    = "RETRY"    // wait and evaluate again
	ResultRollback = "ROLLBACK" // the stage's deployment is rolled back, then it fails
)

// Condition statuses. InProgress: being evaluated (waiting for a deploy
// window, watching alarms through a bake time). Overridden: an admin let
// the execution through (Condition.OverriddenBy). Skipped: never
// evaluated, the execution ended first.
const (
	ConditionPending    = "Pending"
	ConditionInProgress = "InProgress"
	ConditionSucceeded  = "Succeeded"
	ConditionFailed     = "Failed"
	ConditionOverridden = "Overridden"
	ConditionSkipped    = "Skipped"
)

var conditionStatuses = []string{ConditionPending, ConditionInProgress, ConditionSucceeded, ConditionFailed, ConditionOverridden, ConditionSkipped}

// EventExecutionCondition is appended when a condition's status or
// message changes; data: ConditionChange.
const EventExecutionCondition = "pipeline.condition"

// Condition is one condition of a stage and how it was evaluated.
type Condition struct {
	When   string `json:"when"`             // ConditionBeforeEntry or ConditionOnSuccess
	Rule   string `json:"rule"`             // DeploymentWindow, NoOpenAlarm, BakeTime (package pipeline)
	Config string `json:"config,omitempty"` // e.g. "Mon-Fri 09:00-17:00 Europe/Berlin", "10m0s"
	Result string `json:"result"`           // what it gives when not met: a Result*
	Status string `json:"status"`           // a Condition* status
	// Message says why it waits, passed or failed.
	Message         string    `json:"message,omitempty"`
	Evaluations     int       `json:"evaluations,omitempty"`
	StartedAt       time.Time `json:"started_at,omitzero"`
	LastEvaluatedAt time.Time `json:"last_evaluated_at,omitzero"`
	EndedAt         time.Time `json:"ended_at,omitzero"`
	OverriddenBy    string    `json:"overridden_by,omitempty"`
}

// ConditionChange is the data of pipeline.condition events.
type ConditionChange struct {
	Execution      string    `json:"execution"`
	Stage          string    `json:"stage"`
	Condition      Condition `json:"condition"`
	PreviousStatus string    `json:"previous_status,omitempty"`
}

func checkConditions(st Stage) error {
	for _, c := range st.Conditions {
		if !slices.Contains(conditionStatuses, c.Status) {
			return fmt.Errorf("%w: stage %s condition %s status %q", ErrInvalid, st.Name, c.Rule, c.Status)
		}
	}
	return nil
}

// encodeConditions is the conditions column's value: NULL for none.
func encodeConditions(cs []Condition) (any, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("encoding stage conditions: %w", err)
	}
	return string(raw), nil
}

func decodeConditions(st *Stage, v jsonValue) error {
	if len(v.raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(v.raw, &st.Conditions); err != nil {
		return fmt.Errorf("decoding the conditions of stage %s: %w", st.Name, err)
	}
	return nil
}

func stagesEqual(a, b Stage) bool {
	return a.Name == b.Name && a.Status == b.Status && a.Message == b.Message &&
		a.StartedAt.Equal(b.StartedAt) && a.EndedAt.Equal(b.EndedAt) && slices.Equal(a.Conditions, b.Conditions)
}

// emitConditionChanges appends pipeline.condition for each condition of
// st whose status or message differs from was's.
func (t *tx) emitConditionChanges(ctx context.Context, e Execution, st, was Stage) error {
	for i, c := range st.Conditions {
		var prev Condition
		if i < len(was.Conditions) {
			prev = was.Conditions[i]
		}
		if c.Status == prev.Status && c.Message == prev.Message {
			continue
		}
		change := ConditionChange{Execution: e.ID, Stage: st.Name, Condition: c, PreviousStatus: prev.Status}
		if err := t.emit(ctx, EventExecutionCondition, e.App, e.DeploymentID, change); err != nil {
			return err
		}
	}
	return nil
}
