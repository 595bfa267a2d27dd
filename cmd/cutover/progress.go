package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// progress prints a deployment's events the way people follow a deploy:
// each lifecycle step when it ends (✓ or ✗, with its duration), the share
// of production traffic the new revision gets, how many of its targets
// are healthy, and the elapsed time.
//
// On a terminal (live) the current step, the traffic bar, the targets
// and the clock are one line redrawn in place, and finished steps scroll
// above it. Elsewhere (CI logs, pipes) every change is a line of its own.
// The zero value prints plain lines without colour.
type progress struct {
	w      io.Writer
	live   bool // redraw a status line (a terminal)
	colour bool
	// desired is the app's task count: the total of "healthy/total".
	// 0: the number of the new revision's tasks seen so far.
	desired int

	mu       sync.Mutex
	d        store.Deployment // as last seen
	started  time.Time
	green    string // the task set (target group colour) of the new revision
	rolling  bool
	percent  int                   // the new revision's share of production traffic
	tasks    map[string]store.Task // the new revision's tasks
	healthy  int                   // last printed count of its healthy tasks
	step     string                // the lifecycle step in progress
	lineOpen bool                  // a live line is drawn and not yet ended
	final    *store.Deployment
}

// newProgress returns a progress printer for w: live and coloured when w
// is a terminal, without colour when NO_COLOR is set or TERM is dumb.
func newProgress(w io.Writer, desired int) *progress {
	p := &progress{w: w, desired: desired}
	f, ok := w.(*os.File)
	p.live, p.colour = display(ok && term.IsTerminal(int(f.Fd())), os.Getenv)
	return p
}

// display decides between a live line and plain lines, and on colour
// (https://no-color.org).
func display(terminal bool, getenv func(string) string) (live, colour bool) {
	live = terminal && getenv("TERM") != "dumb"
	return live, live && getenv("NO_COLOR") == ""
}

// event takes one event and reports whether the deployment goes on.
func (p *progress) event(ev store.Event) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tasks == nil {
		p.tasks = map[string]store.Task{}
	}
	switch ev.Type {
	case store.EventDeploymentCreated, store.EventDeploymentStatus, store.EventDeploymentUpdated:
		var ch store.DeploymentChange
		if json.Unmarshal(ev.Data, &ch) != nil {
			return true
		}
		p.deployment(ev.Type, ch.Deployment)
		return p.final == nil
	case store.EventDeploymentLifecycle:
		var le store.LifecycleEvent
		if json.Unmarshal(ev.Data, &le) == nil {
			p.lifecycle(le)
		}
	case store.EventTrafficShift:
		var wc store.WeightChange
		if json.Unmarshal(ev.Data, &wc) == nil && wc.Listener == "production" {
			p.traffic(wc)
		}
	case store.EventTaskCreated, store.EventTaskState, store.EventTaskUpdated:
		var tc store.TaskChange
		if json.Unmarshal(ev.Data, &tc) == nil {
			p.task(tc.Task)
		}
	}
	return true
}

func (p *progress) deployment(typ string, d store.Deployment) {
	p.d = d
	if typ == store.EventDeploymentCreated {
		p.started = d.CreatedAt
		var rec struct {
			Green string `json:"green"`
			Blue  string `json:"blue"`
		}
		json.Unmarshal(d.Config, &rec)
		p.green, p.rolling = rec.Green, d.Strategy == "rolling" || (rec.Green != "" && rec.Green == rec.Blue)
		from := d.FromRevision
		if from == "" {
			from = "nothing"
		}
		p.println(fmt.Sprintf("Deploying %s: %s → %s (%s), deployment %s", d.App, from, d.ToRevision, strategyName(d.Strategy), d.ID))
	}
	if d.Active() {
		p.redraw()
		return
	}
	p.final = &d
	took := d.EndedAt.Sub(p.started)
	mark, paint := "✓", green
	if d.Status != store.DeploymentSucceeded {
		mark, paint = "✗", red
		if d.Status == store.DeploymentRolledBack || d.Status == store.DeploymentStopped {
			paint = yellow
		}
	}
	msg := fmt.Sprintf("%s %s %s in %s", p.paint(paint, mark), d.ID, p.paint(paint, d.Status), duration(took))
	if d.Error != "" {
		msg += ": " + d.Error
	}
	p.println(msg)
}

func (p *progress) lifecycle(le store.LifecycleEvent) {
	switch le.Status {
	case store.LifecyclePending:
		return // planned, not started
	case store.LifecycleInProgress:
		p.step = le.Name
		p.redraw()
		return
	}
	if p.step == le.Name {
		p.step = ""
	}
	var line string
	switch le.Status {
	case store.LifecycleSucceeded:
		line = fmt.Sprintf("  %s %-22s %s", p.paint(green, "✓"), le.Name, p.paint(dim, duration(le.EndedAt.Sub(le.StartedAt))))
	case store.LifecycleSkipped:
		line = fmt.Sprintf("  %s %-22s %s", p.paint(dim, "-"), le.Name, p.paint(dim, "skipped"))
	default:
		line = fmt.Sprintf("  %s %-22s %s", p.paint(red, "✗"), le.Name, p.paint(dim, duration(le.EndedAt.Sub(le.StartedAt))))
	}
	if le.Message != "" {
		// A release command's output has lines of its own: indented under the step.
		line += "  " + strings.ReplaceAll(le.Message, "\n", "\n      ")
	}
	p.println(line)
}

func (p *progress) traffic(wc store.WeightChange) {
	if p.rolling {
		return // one target group: the share follows the healthy tasks
	}
	total := 0
	for _, w := range wc.Weights {
		total += w
	}
	percent := 0
	if total > 0 {
		percent = wc.Weights[p.green] * 100 / total
	}
	if percent == p.percent && !p.live {
		return
	}
	p.percent = percent
	if !p.live {
		p.println(fmt.Sprintf("  %s traffic  %s %3d%% → %s", p.paint(dim, "·"), bar(percent, 20), percent, p.d.ToRevision))
	}
	p.redraw()
}

func (p *progress) task(t store.Task) {
	if t.Revision != p.d.ToRevision || p.d.ToRevision == "" || t.TaskSet == deploy.TaskSetOneOff {
		return // not a target: another revision's, or the release command
	}
	p.tasks[t.ID] = t
	healthy, total := p.targets()
	if p.rolling && total > 0 {
		p.percent = p.rollingShare()
	}
	if healthy == p.healthy {
		p.redraw()
		return
	}
	p.healthy = healthy
	if !p.live {
		p.println(fmt.Sprintf("  %s targets  %d/%d healthy", p.paint(dim, "·"), healthy, total))
	}
	p.redraw()
}

// targets counts the new revision's healthy tasks, out of the app's
// desired count (or of its tasks, when that is unknown).
func (p *progress) targets() (healthy, total int) {
	running := 0
	for _, t := range p.tasks {
		switch t.State {
		case store.TaskHealthy:
			healthy++
			running++
		case store.TaskStopped:
		default:
			running++
		}
	}
	total = p.desired
	if total == 0 {
		total = running
	}
	return healthy, total
}

// rollingShare is the new revision's share of traffic in a rolling
// update: its healthy tasks out of the desired count.
func (p *progress) rollingShare() int {
	healthy, total := p.targets()
	if total == 0 {
		return 0
	}
	return min(100, healthy*100/total)
}

// tick redraws the live line, for the clock.
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.final == nil {
		p.redraw()
	}
}

// redraw draws the live line: step, traffic bar, targets, elapsed time.
func (p *progress) redraw() {
	if !p.live || p.final != nil || p.started.IsZero() {
		return
	}
	step := p.step
	if step == "" {
		step = "…"
	}
	healthy, total := p.targets()
	line := fmt.Sprintf("%s %-22s %s %3d%% → %s  targets %d/%d healthy  %s",
		p.paint(cyan, "▸"), step, bar(p.percent, 20), p.percent, p.d.ToRevision, healthy, total,
		p.paint(dim, duration(time.Since(p.started))))
	fmt.Fprint(p.w, "\r\033[K"+line)
	p.lineOpen = true
}

// println prints a line of its own, above the live line.
func (p *progress) println(s string) {
	if p.lineOpen {
		fmt.Fprint(p.w, "\r\033[K")
		p.lineOpen = false
	}
	fmt.Fprintln(p.w, s)
	p.redraw()
}

// close ends the live line.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lineOpen {
		fmt.Fprint(p.w, "\r\033[K")
		p.lineOpen = false
	}
}

// ANSI colours.
const (
	green  = "32"
	red    = "31"
	yellow = "33"
	cyan   = "36"
	dim    = "2"
)

func (p *progress) paint(code, s string) string {
	if !p.colour {
		return s
	}
	return "\033[" + code + "m" + s + "\033[0m"
}

// bar renders percent as [#####...............].
func bar(percent, width int) string {
	filled := max(0, min(width, percent*width/100))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

// duration rounds d for people: 850ms, 12.3s, 4m5s.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func strategyName(s string) string {
	if s == "" {
		return "blue_green"
	}
	return s
}

// weights renders {"blue": 75, "green": 25} as percentages.
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
	return strings.Join(parts, " / ")
}
