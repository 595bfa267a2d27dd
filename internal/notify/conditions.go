package notify

import (
	"encoding/json"

	"github.com/cutover/cutover/internal/store"
)

// conditionWaiting makes p a pipeline.waiting when the pipeline.condition
// event data says an entry condition began to wait (a deploy window
// closed, an alarm open), so people hear why nothing deploys yet.
func conditionWaiting(p Payload, data json.RawMessage) Payload {
	var c store.ConditionChange
	if json.Unmarshal(data, &c) != nil || c.Condition.When != store.ConditionBeforeEntry ||
		c.Condition.Status != store.ConditionInProgress || c.PreviousStatus == store.ConditionInProgress {
		return p
	}
	p.Event, p.Execution, p.Status, p.Step = "pipeline.waiting", c.Execution, store.ExecutionInProgress, c.Stage
	p.Reason = c.Condition.Message
	return p
}
