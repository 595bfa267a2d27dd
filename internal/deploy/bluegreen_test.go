package deploy

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestBlueGreenLinearUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := e.appConfig("v1")
	e.setup(v1)
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Fatalf("after the first deployment production answers %v, want v1 only", got)
	}

	l := startLoad(t, e.prodAddr)
	time.Sleep(300 * time.Millisecond)
	d := e.deploy(e.appConfig("v2"))
	time.Sleep(300 * time.Millisecond)
	l.checkNoFailures(t)

	if d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment ended %s: %s", d.Status, d.Error)
	}
	if got := versionsNow(t, e.prodAddr, 20); got["v2"] != 20 {
		t.Errorf("after the deployment production answers %v, want v2 only", got)
	}
	if got := versionsNow(t, e.testAddr, 5); got["v2"] != 5 {
		t.Errorf("after the deployment the test listener answers %v, want v2 only", got)
	}
	if got := e.liveTasks("web"); len(got) != 1 || got[d.ToRevision] != 2 {
		t.Errorf("live tasks by revision: %v; want only 2 of %s", got, d.ToRevision)
	}

	events, err := e.store.ListLifecycleEvents(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var last time.Time
	for _, ev := range events {
		names = append(names, ev.Name+":"+ev.Status)
		if ev.Status == store.LifecycleSucceeded {
			if ev.StartedAt.IsZero() || ev.EndedAt.Before(ev.StartedAt) || ev.StartedAt.Before(last) {
				t.Errorf("event %s has times %s - %s (previous ended %s)", ev.Name, ev.StartedAt, ev.EndedAt, last)
			}
			last = ev.EndedAt
		}
	}
	want := []string{
		"BeforeInstall:Skipped", "Install:Succeeded", "AfterInstall:Skipped", "AllowTestTraffic:Succeeded",
		"AfterAllowTestTraffic:Skipped", "ReadyWait:Skipped", "BeforeAllowTraffic:Skipped", "AllowTraffic:Succeeded",
		"AfterAllowTraffic:Skipped", "TerminationWait:Succeeded", "TerminateOriginal:Succeeded",
	}
	if !slices.Equal(names, want) {
		t.Errorf("lifecycle events:\n got %v\nwant %v", names, want)
	}

	history, err := e.store.WeightHistory(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	green := replacementGroup(t, d)
	var shifts []int
	for _, w := range history {
		if w.Listener == "production" {
			shifts = append(shifts, w.Weights[green])
		}
	}
	if !slices.Equal(shifts, []int{34, 68, 100}) {
		t.Errorf("production weights of the replacement (%s): %v; want [34 68 100]", green, shifts)
	}
}

// replacementGroup is the target group (color) a deployment's replacement
// task set ran in: roles swap every deployment.
func replacementGroup(t *testing.T, d store.Deployment) string {
	t.Helper()
	var rec runRecord
	if err := json.Unmarshal(d.Config, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Green
}
