package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// conditionFlags are `cutover pipeline settings`' flags for the Deploy
// stage's conditions.
type conditionFlags struct {
	window, zone, windowResult, noAlarm, retry, bake string
}

var conditionFlagNames = []string{"deploy-window", "time-zone", "window-result", "no-open-alarm", "retry-interval", "bake-time"}

func (f *conditionFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.window, "deploy-window", "", `condition: deploy only inside this window, e.g. "Mon-Fri 09:00-17:00" or "cron(0 9 * * 1-5) 8h"; "" removes it`)
	fl.StringVar(&f.zone, "time-zone", "", "the deploy window's IANA time zone, e.g. Europe/Berlin (default UTC)")
	fl.StringVar(&f.windowResult, "window-result", "", "outside the window: retry (wait for it, the default) or fail")
	fl.StringVar(&f.noAlarm, "no-open-alarm", "", `condition: no alarm of the app in ALARM before Deploy: retry (wait) or fail; "" removes it`)
	fl.StringVar(&f.retry, "retry-interval", "", "how often waiting conditions are evaluated again (default 1m)")
	fl.StringVar(&f.bake, "bake-time", "", "after the deployment, watch the app's alarms this long; an alarm rolls back (0 removes it)")
}

func (f *conditionFlags) changed(cmd *cobra.Command) bool {
	return anyChanged(cmd, conditionFlagNames...)
}

// apply sets the conditions the flags give in s and keeps the others.
func (f *conditionFlags) apply(cmd *cobra.Command, s *api.PipelineSettings) {
	if !f.changed(cmd) {
		return
	}
	c := api.PipelineConditions{}
	if s.Conditions != nil {
		c = *s.Conditions
	}
	fl := cmd.Flags()
	for _, v := range []struct {
		name string
		from string
		to   *string
	}{
		{"deploy-window", f.window, &c.DeployWindow},
		{"time-zone", f.zone, &c.TimeZone},
		{"window-result", f.windowResult, &c.WindowResult},
		{"no-open-alarm", f.noAlarm, &c.NoOpenAlarm},
		{"retry-interval", f.retry, &c.RetryInterval},
		{"bake-time", f.bake, &c.BakeTime},
	} {
		if fl.Changed(v.name) {
			*v.to = v.from
		}
	}
	if c.BakeTime == "0" {
		c.BakeTime = ""
	}
	if c.DeployWindow == "" {
		c.TimeZone, c.WindowResult = "", ""
	}
	s.Conditions = &c
}

// printConditions prints the settings' conditions, if any, in
// printPipeline.
func printConditions(w io.Writer, c *api.PipelineConditions) {
	if c == nil {
		return
	}
	if c.DeployWindow != "" {
		fmt.Fprintf(w, "  deploy window  %s %s (outside it: %s)\n", c.DeployWindow, orDefault(c.TimeZone, "UTC"), orDefault(c.WindowResult, pipeline.ResultRetry))
	}
	if c.NoOpenAlarm != "" {
		fmt.Fprintf(w, "  no open alarm  %s\n", c.NoOpenAlarm)
	}
	if c.DeployWindow != "" || c.NoOpenAlarm != "" {
		fmt.Fprintf(w, "  retried every  %s\n", orDefault(c.RetryInterval, "1m"))
	}
	if c.BakeTime != "" {
		fmt.Fprintf(w, "  bake time      %s (an alarm redeploys the previous revision)\n", c.BakeTime)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// printStageConditions lists the stages' conditions in printExecution.
func printStageConditions(w io.Writer, e store.Execution) {
	has := false
	for _, st := range e.Stages {
		has = has || len(st.Conditions) > 0
	}
	if !has {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONDITION\tWHEN\tRESULT\tSTATUS\tEVALUATED\tMESSAGE")
	for _, st := range e.Stages {
		for _, c := range st.Conditions {
			name := st.Name + " " + c.Rule
			if c.Config != "" {
				name += " " + c.Config
			}
			status := c.Status
			if c.OverriddenBy != "" {
				status += " by " + c.OverriddenBy
			}
			evaluated := "-"
			if c.Evaluations > 0 {
				evaluated = fmt.Sprintf("%dx, last %s", c.Evaluations, c.LastEvaluatedAt.Local().Format(time.DateTime))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, c.When, c.Result, status, evaluated, orDash(c.Message))
		}
	}
	tw.Flush()
}

func newPipelineOverrideCmd(g *globalFlags) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   "override <execution>",
		Short: "Let an execution waiting for the Deploy stage's conditions (deploy window, open alarm) in now (admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			e, err := c.ActOnExecution(cmd.Context(), args[0], "override", comment)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, e, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: conditions overridden, deploying (%s)\n", e.ID, e.Status)
			})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "a comment recorded with the override")
	return cmd
}

// conditionWait prints, in `pipeline start --wait`, what the Deploy
// stage waits for each time it changes, and how to let it in.
func (x *executionWatch) conditionWait(st store.Stage) {
	if st.Name != "Deploy" || st.Status != store.StageInProgress || !strings.HasPrefix(st.Message, "waiting: ") || st.Message == x.waitMsg {
		return
	}
	x.waitMsg = st.Message
	fmt.Fprintf(x.w, "  %s (cutover pipeline override %s lets it in now)\n", st.Message, x.e.ID)
}
