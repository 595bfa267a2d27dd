package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestSelects(t *testing.T) {
	tests := []struct {
		filter []string
		event  string
		want   bool
	}{
		{nil, "deployment.failed", true},
		{[]string{}, "pipeline.waiting", true},
		{[]string{"deployment.failed"}, "deployment.failed", true},
		{[]string{"deployment.failed"}, "deployment.succeeded", false},
		{[]string{"deployment.failed", "pipeline.failed"}, "pipeline.failed", true},
		{[]string{"deployment.*"}, "deployment.rolled_back", true},
		{[]string{"deployment.*"}, "pipeline.started", false},
		{[]string{"pipeline.*"}, "pipeline.waiting", true},
		{[]string{"*"}, "pipeline.stopped", true},
	}
	for _, tt := range tests {
		if got := Selects(tt.filter, tt.event); got != tt.want {
			t.Errorf("Selects(%q, %s) = %v, want %v", tt.filter, tt.event, got, tt.want)
		}
	}
}

func TestKind(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	dep := func(status, prev, errMsg string) json.RawMessage {
		b, _ := json.Marshal(store.DeploymentChange{Deployment: store.Deployment{ID: "hello-d3", App: "hello", Status: status, Error: errMsg}, PreviousStatus: prev})
		return b
	}
	exec := func(status string) json.RawMessage {
		b, _ := json.Marshal(store.ExecutionChange{Execution: store.Execution{ID: "hello-e2", App: "hello", Status: status}})
		return b
	}
	life := func(name, status string) json.RawMessage {
		b, _ := json.Marshal(store.LifecycleEvent{DeploymentID: "hello-d3", Name: name, Status: status})
		return b
	}
	stage := func(name, status, prev string) json.RawMessage {
		b, _ := json.Marshal(store.StageChange{Execution: "hello-e2", Stage: store.Stage{Name: name, Status: status}, PreviousStatus: prev})
		return b
	}
	tests := []struct {
		name  string
		typ   string
		data  json.RawMessage
		event string // "" = nobody is notified
	}{
		{"deployment created in progress", store.EventDeploymentCreated, dep("InProgress", "", ""), "deployment.started"},
		{"deployment created, not started", store.EventDeploymentCreated, dep("Created", "", ""), ""},
		{"deployment started later", store.EventDeploymentStatus, dep("InProgress", "Created", ""), "deployment.started"},
		{"succeeded", store.EventDeploymentStatus, dep("Succeeded", "InProgress", ""), "deployment.succeeded"},
		{"failed", store.EventDeploymentStatus, dep("Failed", "InProgress", "boom"), "deployment.failed"},
		{"rolled back", store.EventDeploymentStatus, dep("RolledBack", "InProgress", "alarm"), "deployment.rolled_back"},
		{"stopped", store.EventDeploymentStatus, dep("Stopped", "InProgress", ""), "deployment.stopped"},
		{"other field changed", store.EventDeploymentUpdated, dep("InProgress", "", ""), ""},
		{"ready wait", store.EventDeploymentLifecycle, life("ReadyWait", "InProgress"), "deployment.waiting"},
		{"ready wait ended", store.EventDeploymentLifecycle, life("ReadyWait", "Succeeded"), ""},
		{"other lifecycle", store.EventDeploymentLifecycle, life("AllowTraffic", "InProgress"), ""},
		{"execution created", store.EventExecutionCreated, exec("InProgress"), "pipeline.started"},
		{"execution succeeded", store.EventExecutionStatus, exec("Succeeded"), "pipeline.succeeded"},
		{"execution failed", store.EventExecutionStatus, exec("Failed"), "pipeline.failed"},
		{"execution superseded", store.EventExecutionStatus, exec("Superseded"), "pipeline.stopped"},
		{"execution stopping", store.EventExecutionStatus, exec("Stopping"), ""},
		{"approval waits", store.EventExecutionStage, stage("Approval", "InProgress", "Pending"), "pipeline.waiting"},
		{"approval message", store.EventExecutionStage, stage("Approval", "InProgress", "InProgress"), ""},
		{"build stage", store.EventExecutionStage, stage("Build", "InProgress", "Pending"), ""},
		{"task", store.EventTaskState, json.RawMessage(`{}`), ""},
		{"damaged data", store.EventDeploymentStatus, json.RawMessage(`[1]`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := kind(store.Event{ID: 9, At: at, Type: tt.typ, App: "hello", Data: tt.data})
			if p.Event != tt.event || ok != (tt.event != "") {
				t.Fatalf("kind = %q, %v; want %q", p.Event, ok, tt.event)
			}
			if ok && (p.App != "hello" || !p.Time.Equal(at) || (p.Deployment == "" && p.Execution == "")) {
				t.Errorf("payload %+v lacks the app, time or subject", p)
			}
		})
	}
}

func TestTextMasksEnvValues(t *testing.T) {
	p := Payload{Event: "deployment.failed", App: "hello", Deployment: "hello-d3", Error: maskValues("health check failed; DB=postgres://u:hunter22@db", map[string]string{"DB_PASSWORD": "hunter22", "X": "1"}),
		URL: "http://cutover.example:9190/deployments/hello-d3"}
	got := text(p)
	want := "hello: deployment hello-d3 failed: health check failed; DB=postgres://u:***@db http://cutover.example:9190/deployments/hello-d3"
	if got != want {
		t.Errorf("text = %q\nwant %q", got, want)
	}
	if w := text(Payload{Event: "pipeline.waiting", App: "hello", Execution: "hello-e2"}); !strings.Contains(w, "cutover pipeline approve hello-e2") {
		t.Errorf("waiting text %q does not say how to approve", w)
	}
}
