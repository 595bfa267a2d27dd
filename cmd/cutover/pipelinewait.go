package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// pollInterval is how often `pipeline start --wait` reads the execution.
const pollInterval = 250 * time.Millisecond

// executionWatch shows an execution as it runs: each stage when it starts
// and when it ends, the build's log while the Build stage runs, and the
// deployment's progress as `deploy --wait` shows it.
//
// The stages come from polling the execution, and are printed in their
// order whatever the polls saw (a stage that started and ended between
// two polls still gets both lines), so the output is the same from run to
// run. Only one part writes at a time: the build's log is printed between
// the Build stage's start and end lines, the deployment's progress before
// the Deploy stage's end line.
type executionWatch struct {
	c    *api.Client
	w    io.Writer
	e    store.Execution
	look *progress // the terminal's colours; shows the deployment

	seen     map[string]string // stage -> the status last printed
	buildLog chan struct{}     // closed when the build's log is printed
	deployed bool              // the deployment's progress was shown

	waitMsg string // the Deploy stage's last "waiting: ..." printed (pipeline_conditions.go)
}

func newExecutionWatch(ctx context.Context, c *api.Client, e store.Execution, w io.Writer) *executionWatch {
	desired := 0
	if a, err := c.App(ctx, e.App); err == nil {
		desired = a.DesiredCount
	}
	return &executionWatch{c: c, w: w, e: e, look: newProgress(w, desired), seen: map[string]string{}}
}

// run follows the execution until it ends and returns it as it ended.
func (x *executionWatch) run(ctx context.Context) (store.Execution, error) {
	fmt.Fprintf(x.w, "Pipeline of %s: execution %s (%s), branch %s\n", x.e.App, x.e.ID, x.e.Trigger, orDash(x.e.Branch))
	for {
		e, err := x.c.Execution(ctx, x.e.ID)
		if err != nil {
			return e, err
		}
		x.e = e
		for _, st := range e.Stages {
			if err := x.stage(ctx, st); err != nil {
				return e, err
			}
		}
		if !e.Active() {
			x.end()
			return e, nil
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// stage prints what is new about one stage.
func (x *executionWatch) stage(ctx context.Context, st store.Stage) error {
	was := x.seen[st.Name]
	if st.Status == store.StagePending || st.Status == was {
		return nil
	}
	if st.Status == store.StageSkipped {
		x.seen[st.Name] = st.Status
		fmt.Fprintf(x.w, "%s %-9s %s\n", x.look.paint(dim, "-"), st.Name, x.look.paint(dim, "skipped"))
		return nil
	}
	if was == "" && !st.StartedAt.IsZero() {
		x.seen[st.Name] = store.StageInProgress
		fmt.Fprintf(x.w, "%s %s\n", x.look.paint(cyan, "▸"), st.Name)
		switch st.Name {
		case "Build":
			x.buildLog = make(chan struct{})
			go x.printBuildLog(ctx)
		case "Approval":
			fmt.Fprintf(x.w, "  waiting for an approval: cutover pipeline approve|reject %s\n", x.e.ID)
		}
	}
	x.conditionWait(st)
	if st.Name == "Deploy" && x.e.DeploymentID != "" && !x.deployed {
		// While the deployment runs, or after it when the stage ended
		// between two polls: Follow replays it from its first event.
		x.deployed = true
		if err := followProgress(ctx, x.c, x.e.DeploymentID, x.look); err != nil {
			return err
		}
	}
	if st.Status == store.StageInProgress {
		return nil
	}
	if st.Name == "Build" && x.buildLog != nil {
		select {
		case <-x.buildLog:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	x.seen[st.Name] = st.Status
	mark, colour := "✓", green
	switch st.Status {
	case store.StageSucceeded:
	case store.StageStopped, store.StageAbandoned:
		mark, colour = "■", yellow
	default:
		mark, colour = "✗", red
	}
	line := fmt.Sprintf("%s %-9s %-9s %s", x.look.paint(colour, mark), st.Name, st.Status, x.look.paint(dim, stageTook(st)))
	if st.Message != "" {
		line += "  " + st.Message
	}
	fmt.Fprintln(x.w, line)
	return nil
}

// printBuildLog prints the execution's log from the Build stage's start
// to its end, as the build writes it.
func (x *executionWatch) printBuildLog(ctx context.Context) {
	defer close(x.buildLog)
	rc, err := x.c.ExecutionLogs(ctx, x.e.ID, true)
	if err != nil {
		fmt.Fprintf(x.w, "  (no build log: %v)\n", err)
		return
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		// The pipeline's own lines start "[Container] <time> ".
		own := strings.HasPrefix(line, "[Container] ")
		switch {
		case own && strings.HasSuffix(line, " Entering stage Build"):
			in = true
		case own && strings.Contains(line, " Stage Build "):
			return
		case in:
			fmt.Fprintf(x.w, "  %s %s\n", x.look.paint(dim, "│"), line)
		}
	}
}

// end prints how the execution ended.
func (x *executionWatch) end() {
	e := x.e
	mark, colour := "✓", green
	switch e.Status {
	case store.ExecutionSucceeded:
	case store.ExecutionStopped, store.ExecutionSuperseded:
		mark, colour = "■", yellow
	default:
		mark, colour = "✗", red
	}
	line := fmt.Sprintf("%s %s %s in %s", x.look.paint(colour, mark), e.ID, x.look.paint(colour, e.Status), duration(e.EndedAt.Sub(e.CreatedAt)))
	if e.Error != "" {
		line += ": " + e.Error
	}
	fmt.Fprintln(x.w, line)
}

// watchExecutionJSON prints the execution as a JSON line each time it
// changes, until it ends, and returns it as it ended.
func watchExecutionJSON(ctx context.Context, c *api.Client, id string, w io.Writer) (store.Execution, error) {
	enc := json.NewEncoder(w)
	var last time.Time
	for {
		e, err := c.Execution(ctx, id)
		if err != nil {
			return e, err
		}
		if !e.UpdatedAt.Equal(last) {
			last = e.UpdatedAt
			enc.Encode(e)
		}
		if !e.Active() {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}
