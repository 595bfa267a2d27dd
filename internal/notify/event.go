package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Payload is the JSON body of a delivery. Slack's incoming webhooks
// read Text and ignore the rest.
type Payload struct {
	Delivery   string    `json:"delivery"` // X-Cutover-Delivery, set per attempt
	Event      string    `json:"event"`    // deployment.failed, pipeline.waiting, ...
	App        string    `json:"app"`
	Deployment string    `json:"deployment,omitempty"`
	Execution  string    `json:"execution,omitempty"`
	Status     string    `json:"status"`           // the deployment's or execution's status
	Step       string    `json:"step,omitempty"`   // what it waits in (ReadyWait, Approval)
	Wait       string    `json:"wait,omitempty"`   // deployment.waiting: the ready wait, e.g. "10m0s"
	Manual     bool      `json:"manual,omitempty"` // deployment.waiting: it holds for cutover continue
	Reason     string    `json:"reason,omitempty"` // pipeline.waiting for a stage condition: what it waits for
	Error      string    `json:"error,omitempty"`  // why it failed, stopped or rolled back
	Time       time.Time `json:"time"`             // when the event happened
	SentAt     time.Time `json:"sent_at"`          // when this attempt was sent, set per attempt
	Text       string    `json:"text"`             // one line for people (Slack)
	URL        string    `json:"url,omitempty"`    // the dashboard's page, when cutover serves one
	// Preview app events (preview.*): the preview app, its URL, and the
	// pull request or branch it is for.
	PreviewApp  string `json:"preview_app,omitempty"`
	PreviewURL  string `json:"preview_url,omitempty"`
	PullRequest int    `json:"pull_request,omitempty"`
	Branch      string `json:"branch,omitempty"`
}

// kind maps one event of the store's log to the notification event it
// is, and the Payload without delivery, text and URL; ok is false for an
// event nobody is notified of.
func kind(e store.Event) (Payload, bool) {
	p := Payload{App: e.App, Time: e.At}
	switch e.Type {
	case store.EventDeploymentCreated, store.EventDeploymentStatus:
		var c store.DeploymentChange
		if json.Unmarshal(e.Data, &c) != nil {
			return p, false
		}
		d := c.Deployment
		p.Deployment, p.Status, p.Error = d.ID, d.Status, d.Error
		p.Event = deploymentEvent(e.Type, c.PreviousStatus, d.Status)
	case store.EventDeploymentLifecycle:
		var l store.LifecycleEvent
		if json.Unmarshal(e.Data, &l) != nil || l.Name != "ReadyWait" || l.Status != store.LifecycleInProgress {
			return p, false
		}
		p.Event, p.Deployment, p.Status, p.Step = "deployment.waiting", l.DeploymentID, store.DeploymentInProgress, l.Name
	case store.EventExecutionCreated, store.EventExecutionStatus:
		var c store.ExecutionChange
		if json.Unmarshal(e.Data, &c) != nil {
			return p, false
		}
		x := c.Execution
		p.Execution, p.Deployment, p.Status, p.Error = x.ID, x.DeploymentID, x.Status, x.Error
		p.Event = executionEvent(e.Type, x.Status)
	case store.EventExecutionStage:
		var c store.StageChange
		if json.Unmarshal(e.Data, &c) != nil || c.Stage.Name != "Approval" ||
			c.Stage.Status != store.StageInProgress || c.PreviousStatus == store.StageInProgress {
			return p, false
		}
		p.Event, p.Execution, p.Status, p.Step = "pipeline.waiting", c.Execution, store.ExecutionInProgress, c.Stage.Name
	case store.EventExecutionCondition:
		p = conditionWaiting(p, e.Data)
	default:
		p = previewPayload(p, e)
	}
	return p, p.Event != ""
}

func deploymentEvent(typ, prev, status string) string {
	switch {
	case typ == store.EventDeploymentCreated && status == store.DeploymentInProgress,
		typ == store.EventDeploymentStatus && status == store.DeploymentInProgress && prev == store.DeploymentCreated:
		return "deployment.started"
	case typ != store.EventDeploymentStatus:
		return ""
	}
	return map[string]string{
		store.DeploymentSucceeded:  "deployment.succeeded",
		store.DeploymentFailed:     "deployment.failed",
		store.DeploymentRolledBack: "deployment.rolled_back",
		store.DeploymentStopped:    "deployment.stopped",
	}[status]
}

func executionEvent(typ, status string) string {
	if typ == store.EventExecutionCreated {
		return "pipeline.started"
	}
	return map[string]string{
		store.ExecutionSucceeded:  "pipeline.succeeded",
		store.ExecutionFailed:     "pipeline.failed",
		store.ExecutionStopped:    "pipeline.stopped",
		store.ExecutionSuperseded: "pipeline.stopped",
	}[status]
}

// Selects reports whether a webhook with the event filter filter is
// called on event: an empty filter selects every event; "*",
// "deployment.*" and "pipeline.*" select by prefix.
func Selects(filter []string, event string) bool {
	if len(filter) == 0 {
		return true
	}
	return slices.ContainsFunc(filter, func(f string) bool {
		if prefix, ok := strings.CutSuffix(f, "*"); ok {
			return strings.HasPrefix(event, prefix)
		}
		return f == event
	})
}

// text is the Payload's line for people.
func text(p Payload) string {
	if strings.HasPrefix(p.Event, "preview.") {
		return previewText(p)
	}
	subject := "deployment " + p.Deployment
	if strings.HasPrefix(p.Event, "pipeline.") {
		subject = "pipeline execution " + p.Execution
	}
	verb := map[string]string{
		"started": "started", "succeeded": "succeeded", "failed": "failed",
		"rolled_back": "was rolled back", "stopped": "stopped",
	}[p.Event[strings.IndexByte(p.Event, '.')+1:]]
	switch p.Event {
	case "deployment.waiting":
		verb = "waits " + p.Wait + " before production traffic (`cutover continue " + p.Deployment + "` goes on now)"
		if p.Manual {
			verb = "waits up to " + p.Wait + " for `cutover continue " + p.Deployment + "` before production traffic"
		}
	case "pipeline.waiting":
		verb = "waits for approval (`cutover pipeline approve " + p.Execution + "`)"
		if p.Reason != "" {
			verb = "waits before stage " + p.Step + ": " + p.Reason + " (`cutover pipeline override " + p.Execution + "` lets it in now)"
		}
	}
	s := fmt.Sprintf("%s: %s %s", p.App, subject, verb)
	if p.Error != "" {
		s += ": " + p.Error
	}
	if p.URL != "" {
		s += " " + p.URL
	}
	return s
}

// maskValues replaces every value of env of at least 4 bytes in s.
func maskValues(s string, env map[string]string) string {
	for _, v := range env {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}
