package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestConditionWaitingNotifies(t *testing.T) {
	change := func(status, prev string) json.RawMessage {
		b, _ := json.Marshal(store.ConditionChange{Execution: "hello-e2", Stage: "Deploy", PreviousStatus: prev, Condition: store.Condition{
			When: store.ConditionBeforeEntry, Rule: "DeploymentWindow", Status: status,
			Message: "outside the deploy window Mon-Fri 09:00-17:00 UTC: it opens 2026-12-07 09:00 UTC"}})
		return b
	}
	for _, tc := range []struct {
		name       string
		data       json.RawMessage
		wantNotify bool
	}{
		{"begins to wait", change(store.ConditionInProgress, store.ConditionPending), true},
		{"a new message while waiting", change(store.ConditionInProgress, store.ConditionInProgress), false},
		{"met", change(store.ConditionSucceeded, store.ConditionInProgress), false},
	} {
		p, ok := kind(store.Event{At: time.Now(), Type: store.EventExecutionCondition, App: "hello", Data: tc.data})
		if ok != tc.wantNotify {
			t.Fatalf("%s: notified %v, want %v", tc.name, ok, tc.wantNotify)
		}
		if !ok {
			continue
		}
		want := "hello: pipeline execution hello-e2 waits before stage Deploy: outside the deploy window Mon-Fri 09:00-17:00 UTC: " +
			"it opens 2026-12-07 09:00 UTC (`cutover pipeline override hello-e2` lets it in now)"
		if p.Event != "pipeline.waiting" || p.Step != "Deploy" || text(p) != want {
			t.Errorf("%s: %s step %s, text %q\nwant %q", tc.name, p.Event, p.Step, text(p), want)
		}
	}
}
