package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// progress prints a deployment's events as a person follows them: the
// lifecycle steps as they start and end, traffic weights, task health.
type progress struct {
	w       io.Writer
	started time.Time
	final   *store.Deployment
}

// event prints one event and reports whether the deployment goes on.
func (p *progress) event(ev store.Event) bool {
	switch ev.Type {
	case store.EventDeploymentCreated, store.EventDeploymentStatus:
		var ch store.DeploymentChange
		if json.Unmarshal(ev.Data, &ch) != nil {
			return true
		}
		d := ch.Deployment
		if ev.Type == store.EventDeploymentCreated {
			p.started = d.CreatedAt
			from := d.FromRevision
			if from == "" {
				from = "(nothing)"
			}
			fmt.Fprintf(p.w, "deployment %s of %s: %s -> %s (%s)\n", d.ID, d.App, from, d.ToRevision, d.Strategy)
		}
		if !d.Active() {
			p.final = &d
			msg := ""
			if d.Error != "" {
				msg = ": " + d.Error
			}
			fmt.Fprintf(p.w, "deployment %s %s after %s%s\n", d.ID, d.Status, d.EndedAt.Sub(p.started).Round(100*time.Millisecond), msg)
			return false
		}
	case store.EventDeploymentLifecycle:
		var le store.LifecycleEvent
		if json.Unmarshal(ev.Data, &le) != nil {
			return true
		}
		switch le.Status {
		case store.LifecycleInProgress:
			fmt.Fprintf(p.w, "  %s  %-22s started\n", clock(le.StartedAt), le.Name)
		default:
			took := ""
			if !le.StartedAt.IsZero() && !le.EndedAt.IsZero() {
				took = " in " + le.EndedAt.Sub(le.StartedAt).Round(100*time.Millisecond).String()
			}
			msg := ""
			if le.Message != "" {
				msg = ": " + le.Message
			}
			fmt.Fprintf(p.w, "  %s  %-22s %s%s%s\n", clock(le.EndedAt), le.Name, le.Status, took, msg)
		}
	case store.EventTrafficShift:
		var wc store.WeightChange
		if json.Unmarshal(ev.Data, &wc) != nil {
			return true
		}
		fmt.Fprintf(p.w, "  %s  %-22s %s\n", clock(wc.At), wc.Listener+" traffic", weights(wc.Weights))
	case store.EventTaskState:
		var tc store.TaskChange
		if json.Unmarshal(ev.Data, &tc) != nil {
			return true
		}
		t := tc.Task
		fmt.Fprintf(p.w, "  %s  task %s %s -> %s (%s)\n", clock(ev.At), t.ID, tc.PreviousState, t.State, t.Address)
	}
	return true
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "        "
	}
	return t.Local().Format("15:04:05")
}

// weights renders {"blue": 75, "green": 25} as a bar and percentages.
func weights(w map[string]int) string {
	total := 0
	for _, v := range w {
		total += v
	}
	names := slices.Sorted(maps.Keys(w))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		pct := 0
		if total > 0 {
			pct = w[n] * 100 / total
		}
		parts = append(parts, fmt.Sprintf("%s %d%%", n, pct))
	}
	bar := ""
	if g, ok := w["green"]; ok && total > 0 {
		filled := g * 20 / total
		bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", 20-filled) + "] "
	}
	return bar + strings.Join(parts, " / ")
}
