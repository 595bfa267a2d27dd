package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

func newPipelineCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Start, follow and answer pipeline executions; an app's pipeline settings and git remote",
		Long: `An app's pipeline builds a commit with its buildspec.yml, optionally waits for
an approval, and deploys it (see docs/pipeline.md). Executions start on a
git push to cutover's built-in remote (cutover pipeline remote), a webhook,
polling, or cutover pipeline start.`,
	}
	cmd.AddCommand(
		newPipelineStartCmd(g),
		newPipelineListCmd(g),
		newPipelineShowCmd(g),
		newPipelineLogsCmd(g),
		newPipelineAnswerCmd(g, "approve", "Approve the Approval stage an execution waits in"),
		newPipelineAnswerCmd(g, "reject", "Reject the Approval stage an execution waits in; the execution fails"),
		newPipelineAnswerCmd(g, "stop", "Stop an execution: its build is killed, a deployment in progress is left to finish"),
		newPipelineOverrideCmd(g),
		newPipelineSettingsCmd(g),
		newPipelineRemoteCmd(g),
	)
	return cmd
}

// appArg returns args[0], or the name in ./cutover.yaml.
func appArg(args []string) (string, error) {
	if len(args) == 1 {
		return args[0], nil
	}
	cfg, err := config.LoadApp(".")
	if err != nil {
		return "", fmt.Errorf("give the app, or run in its directory (%w)", err)
	}
	return cfg.Name, nil
}

func newPipelineStartCmd(g *globalFlags) *cobra.Command {
	var req api.StartRequest
	var wait bool
	cmd := &cobra.Command{
		Use:   "start [app]",
		Short: "Start an execution of the app's pipeline (default: the app of ./cutover.yaml)",
		Long: `Start an execution that builds the tip of the app's branch (cutover.yaml's
source), or --commit.

With --wait the execution is followed until it ends: each stage when it
starts and ends with its duration, the build's log as it is written, then
the deployment's progress as cutover deploy shows it. With --json, the
execution is printed as a JSON line each time it changes.

Exit codes with --wait: 0 Succeeded, 1 Failed (or an error), 3 Stopped,
4 Superseded.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, err := appArg(args)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			e, err := c.StartExecution(ctx, app, req)
			if err != nil {
				return err
			}
			if !wait {
				return printJSONOr(cmd, g, e, func() { fmt.Fprintf(cmd.OutOrStdout(), "started execution %s\n", e.ID) })
			}
			if g.json {
				final, err := watchExecutionJSON(ctx, c, e.ID, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				return quietExit(cmd, executionExit(final))
			}
			final, err := newExecutionWatch(ctx, c, e, cmd.OutOrStdout()).run(ctx)
			if err != nil {
				return err
			}
			return quietExit(cmd, executionExit(final))
		},
	}
	cmd.Flags().StringVar(&req.Commit, "commit", "", "the commit to build (default: the branch's tip)")
	cmd.Flags().StringVar(&req.Branch, "branch", "", "the branch (default: cutover.yaml's source.branch)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the execution until it ends; the exit code says how it ended")
	return cmd
}

// exitSuperseded is the exit code of `pipeline start --wait` when a
// newer execution superseded this one.
const exitSuperseded = 4

// executionExit returns the error (exit code) a final execution means.
func executionExit(e store.Execution) error {
	switch e.Status {
	case store.ExecutionSucceeded:
		return nil
	case store.ExecutionStopped:
		return exitError{exitStopped}
	case store.ExecutionSuperseded:
		return exitError{exitSuperseded}
	}
	return exitError{exitFailed}
}

func newPipelineListCmd(g *globalFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list [app]",
		Short: "List pipeline executions, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			es, err := c.Executions(cmd.Context(), app, limit)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, es, func() { printExecutions(cmd.OutOrStdout(), es) })
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many executions, 1 to 1000")
	return cmd
}

func printExecutions(w io.Writer, es []store.Execution) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tAPP\tSTATUS\tTRIGGER\tCOMMIT\tSTAGE\tSTARTED\tTOOK\tDEPLOYMENT")
	for _, e := range es {
		took := "-"
		if !e.EndedAt.IsZero() {
			took = duration(e.EndedAt.Sub(e.CreatedAt))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.App, e.Status, triggerSummary(e), orDash(commitLine(e)),
			orDash(currentStage(e)), e.CreatedAt.Local().Format(time.DateTime), took, orDash(e.DeploymentID))
	}
	tw.Flush()
}

// commitLine is the short commit and its subject.
func commitLine(e store.Execution) string {
	sha := e.Commit
	if len(sha) > 7 {
		sha = sha[:7]
	}
	if e.Message == "" {
		return sha
	}
	return sha + " " + e.Message
}

// currentStage is the stage in progress, or the last one that ran.
func currentStage(e store.Execution) string {
	last := ""
	for _, st := range e.Stages {
		switch st.Status {
		case store.StageInProgress:
			return st.Name
		case store.StagePending, store.StageSkipped:
		default:
			last = st.Name
		}
	}
	return last
}

func newPipelineShowCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show <execution>",
		Short: "Show an execution: commit, status, stages, deployment",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			e, err := c.Execution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, e, func() { printExecution(cmd.OutOrStdout(), e) })
		},
	}
}

func printExecution(w io.Writer, e store.Execution) {
	took := "running for " + ago(e.CreatedAt)
	if !e.EndedAt.IsZero() {
		took = "took " + duration(e.EndedAt.Sub(e.CreatedAt))
	}
	fmt.Fprintf(w, "Execution:   %s (app %s)\n", e.ID, e.App)
	fmt.Fprintf(w, "Status:      %s\n", e.Status)
	fmt.Fprintf(w, "Trigger:     %s\n", triggeredBy(e))
	fmt.Fprintf(w, "Source:      %s, branch %s\n", orDash(e.Repo), orDash(e.Branch))
	fmt.Fprintf(w, "Commit:      %s\n", orDash(commitLine(e)))
	fmt.Fprintf(w, "Started:     %s, %s\n", e.CreatedAt.Local().Format(time.DateTime), took)
	fmt.Fprintf(w, "Deployment:  %s\n", orDash(e.DeploymentID))
	if e.Artifact != "" {
		fmt.Fprintf(w, "Artifact:    %s\n", e.Artifact)
	}
	if e.Error != "" {
		fmt.Fprintf(w, "Error:       %s\n", e.Error)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTATUS\tTOOK\tMESSAGE")
	for _, st := range e.Stages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.Name, st.Status, stageTook(st), orDash(st.Message))
	}
	tw.Flush()
	printStageConditions(w, e)
}

// stageTook is how long a stage ran, or has been running.
func stageTook(st store.Stage) string {
	switch {
	case st.StartedAt.IsZero():
		return "-"
	case st.EndedAt.IsZero():
		return ago(st.StartedAt)
	}
	return duration(st.EndedAt.Sub(st.StartedAt))
}

func newPipelineLogsCmd(g *globalFlags) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs <execution>",
		Short: "Print an execution's log: stages, checkout, build output, deployment",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rc, err := c.ExecutionLogs(cmd.Context(), args[0], follow)
			if err != nil {
				return err
			}
			return printLog(cmd, g, rc, func(line string) any {
				return struct {
					Execution string `json:"execution"`
					Line      string `json:"line"`
				}{args[0], line}
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing while the execution runs")
	return cmd
}

// newPipelineAnswerCmd makes approve, reject and stop.
func newPipelineAnswerCmd(g *globalFlags, action, short string) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   action + " <execution>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			e, err := c.ActOnExecution(cmd.Context(), args[0], action, comment)
			if err != nil {
				return err
			}
			past := map[string]string{"approve": "approved", "reject": "rejected", "stop": "stopping"}[action]
			return printJSONOr(cmd, g, e, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s)\n", e.ID, past, e.Status)
			})
		},
	}
	if action != "stop" {
		cmd.Flags().StringVar(&comment, "comment", "", "a comment recorded with the answer")
	}
	return cmd
}

func newPipelineSettingsCmd(g *globalFlags) *cobra.Command {
	var f settingsFlags
	cmd := &cobra.Command{
		Use:   "settings <app>",
		Short: "Show or change an app's pipeline settings (changing them needs admin)",
		Long: `Without flags, show the app's pipeline settings. With flags, change those
settings and keep the others. Durations are written like 90s, 10m or 1h30m;
--poll 0 turns polling off.

Preview apps: --preview-domain '*.hello.example.com' gives each pull request
an app of its own (hello-pr-42 at pr-42.hello.example.com), destroyed when it
closes or after --preview-idle (docs/previews.md).

  cutover pipeline settings hello --preview-domain '*.hello.example.com' --preview-limit 3

Trigger filters (as CodePipeline V2's) decide which pushes, tags and pull
requests start executions; without them only pushes to the pipeline's
branch do. Any of --push-branch, --push-path, --tag, --pr-branch, --pr-event
(and their -exclude forms) replaces all filters with those they describe;
--triggers FILE sets them from JSON, --triggers none removes them. Globs are
CodePipeline's: * within a path component, ** across, ?, [a-z], {a,b}.

  cutover pipeline settings hello --push-branch main --push-path-exclude 'docs/**' --tag 'v*'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			p, err := c.Pipeline(ctx, args[0])
			if err != nil {
				return err
			}
			if f.changed(cmd) {
				s := p.Settings
				if err := f.apply(cmd, &s, p.Branch); err != nil {
					return err
				}
				if p, err = c.SetPipeline(ctx, args[0], s); err != nil {
					return err
				}
			}
			return printJSONOr(cmd, g, p, func() { printPipeline(cmd.OutOrStdout(), p) })
		},
	}
	f.add(cmd)
	return cmd
}

// settingsFlags are the flags of `pipeline settings` that change a
// setting; a flag not given keeps the setting as it is.
type settingsFlags struct {
	set  api.PipelineSettings
	cond conditionFlags
	prev previewFlags
	trig triggerFlags
}

func (f *settingsFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.set.Mode, "mode", "", "superseded or queued")
	cmd.Flags().BoolVar(&f.set.Approval, "approval", false, "a manual Approval stage before Deploy (--approval=false removes it)")
	cmd.Flags().StringVar(&f.set.ApprovalTimeout, "approval-timeout", "", "fail the Approval stage when nobody answers within it")
	cmd.Flags().StringVar(&f.set.PollInterval, "poll", "", "poll the app's source repository at this interval; 0 turns polling off")
	cmd.Flags().StringVar(&f.set.BuildTimeout, "build-timeout", "", "stop a build that runs longer")
	f.cond.add(cmd)
	cmd.Flags().BoolVar(&f.set.Privileged, "privileged", false, "give builds the Docker Engine through cutover's filter: build, tag, pull and push images only (CodeBuild's privileged mode)")
	f.prev.add(cmd)
	f.trig.add(cmd)
}

// changed reports whether any setting's flag was given.
func (f *settingsFlags) changed(cmd *cobra.Command) bool {
	return anyChanged(cmd, "mode", "approval", "approval-timeout", "poll", "build-timeout", "privileged") ||
		f.cond.changed(cmd) || f.prev.changed(cmd) || f.trig.changed(cmd)
}

// apply sets in s what the given flags say; branch is the pipeline's,
// which trigger filters default to.
func (f *settingsFlags) apply(cmd *cobra.Command, s *api.PipelineSettings, branch string) error {
	f.cond.apply(cmd, s)
	if err := f.prev.apply(cmd, s); err != nil {
		return err
	}
	if err := f.trig.apply(cmd, s, branch); err != nil {
		return err
	}
	flags := cmd.Flags()
	if flags.Changed("mode") {
		s.Mode = f.set.Mode
	}
	if flags.Changed("approval") {
		s.Approval = f.set.Approval
	}
	if flags.Changed("approval-timeout") {
		s.ApprovalTimeout = f.set.ApprovalTimeout
	}
	if flags.Changed("poll") {
		s.PollInterval = f.set.PollInterval
	}
	if flags.Changed("build-timeout") {
		s.BuildTimeout = f.set.BuildTimeout
	}
	if flags.Changed("privileged") {
		s.Privileged = f.set.Privileged
	}
	return nil
}

func anyChanged(cmd *cobra.Command, names ...string) bool {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

func printPipeline(w io.Writer, p api.PipelineInfo) {
	s := p.Settings
	approval := "off"
	if s.Approval {
		approval = "on, timeout " + s.ApprovalTimeout
	}
	poll := "off"
	if s.PollInterval != "" && s.PollInterval != "0s" {
		poll = "every " + s.PollInterval
	}
	fmt.Fprintf(w, "Pipeline of %s\n", p.App)
	fmt.Fprintf(w, "  mode           %s\n", s.Mode)
	fmt.Fprintf(w, "  approval       %s\n", approval)
	fmt.Fprintf(w, "  polling        %s\n", poll)
	fmt.Fprintf(w, "  build timeout  %s\n", s.BuildTimeout)
	docker := "no"
	if s.Privileged {
		docker = "yes, filtered (privileged)"
	}
	fmt.Fprintf(w, "  docker         %s\n", docker)
	printConditions(w, s.Conditions)
	printPreview(w, s.Preview)
	printTriggers(w, p)
	fmt.Fprintf(w, "  git remote     %s\n", cmp.Or(p.PushURL, "none: cutover serves no TCP listener (cutover up --api-addr)"))
}

func newPipelineRemoteCmd(g *globalFlags) *cobra.Command {
	var showSecret bool
	cmd := &cobra.Command{
		Use:   "remote <app>",
		Short: "Print the app's built-in git remote and how to push to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			app := args[0]
			p, err := c.Pipeline(ctx, app)
			if err != nil {
				return err
			}
			if p.PushURL == "" {
				return fmt.Errorf("cutover serves no TCP listener to push to: start it with --api-addr")
			}
			out := api.PipelineSecret{App: app, PushURL: p.PushURL}
			if showSecret {
				if out, err = c.PipelineSecret(ctx, app); err != nil {
					return err
				}
			}
			branch := cmp.Or(p.Branch, appBranch(ctx, c, app))
			return printJSONOr(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "Push to deploy %s:\n\n", app)
				fmt.Fprintf(w, "  git remote add cutover %s\n", out.PushURL)
				fmt.Fprintf(w, "  git push cutover %s\n\n", branch)
				fmt.Fprintf(w, "git asks for a password (any user name): the app's pipeline secret\n")
				fmt.Fprintf(w, "(cutover pipeline remote %s --show-secret, admin) or an API token with the\n", app)
				fmt.Fprintf(w, "deploy role (cutover token create --role deploy). Only pushes to %s deploy.\n", branch)
				if out.Secret != "" {
					fmt.Fprintf(w, "\nPipeline secret: %s\n", out.Secret)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&showSecret, "show-secret", false, "also print the app's pipeline secret (admin)")
	return cmd
}

// appBranch is the branch the app's pipeline builds, "main" when unknown.
func appBranch(ctx context.Context, c *api.Client, app string) string {
	a, err := c.App(ctx, app)
	if err != nil || len(a.Spec) == 0 {
		return "main"
	}
	var cfg config.App
	if json.Unmarshal(a.Spec, &cfg) != nil {
		return "main"
	}
	return cmp.Or(cfg.Source.Branch, "main")
}
