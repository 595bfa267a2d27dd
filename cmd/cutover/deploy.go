package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// client returns a client of the cutover named by --server (a socket
// path or an http(s) URL), else of the socket in the data directory,
// with the token of --token or CUTOVER_TOKEN.
func (g *globalFlags) client() (*api.Client, error) {
	server := g.server
	if server == "" {
		server = filepath.Join(g.dataDir, "cutover.sock")
	}
	token := g.token
	if token == "" {
		token = os.Getenv("CUTOVER_TOKEN")
	}
	return api.Connect(server, token)
}

func parseEnv(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: write KEY=VALUE", p)
		}
		env[k] = v
	}
	return env, nil
}

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// quietExit returns err, and when it is an exitError keeps cobra from
// printing it: the command has said what happened.
func quietExit(cmd *cobra.Command, err error) error {
	var e exitError
	if errors.As(err, &e) {
		cmd.SilenceErrors = true
	}
	return err
}

// Exit codes of `deploy --wait`: 0 only when the deployment Succeeded.
const (
	exitFailed     = 1 // Failed, or the deployment could not be followed
	exitRolledBack = 2
	exitStopped    = 3
)

// deploymentExit returns the error (exit code) a final deployment means.
func deploymentExit(d *store.Deployment) error {
	switch {
	case d == nil:
		return exitError{exitFailed}
	case d.Status == store.DeploymentSucceeded:
		return nil
	case d.Status == store.DeploymentRolledBack:
		return exitError{exitRolledBack}
	case d.Status == store.DeploymentStopped:
		return exitError{exitStopped}
	}
	return exitError{exitFailed}
}

func newDeployCmd(g *globalFlags) *cobra.Command {
	var env []string
	var wait, noWait bool
	cmd := &cobra.Command{
		Use:   "deploy [dir]",
		Short: "Deploy the app in dir (default .) to the running cutover and follow it",
		Long: `Send the app in dir (its cutover.yaml and release files) to the running
cutover, which checks it, snapshots the release and starts a deployment. dir
is read by the server: with --server on another machine, it is a path there.

With --wait (the default) the progress is shown until the deployment ends:
each lifecycle step with its duration, the new revision's share of production
traffic, its healthy targets and the elapsed time. On a terminal this is a
live line; elsewhere one line per change. With --json, every event is printed
as a JSON line.

Exit codes: 0 Succeeded, 1 Failed (or an error), 2 RolledBack, 3 Stopped.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			overrides, err := parseEnv(env)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, err := c.Deploy(ctx, api.DeployRequest{Dir: abs, Env: overrides})
			if err != nil {
				return err
			}
			if !wait || noWait {
				return printJSONOr(cmd, g, d, func() { fmt.Fprintf(cmd.OutOrStdout(), "started deployment %s\n", d.ID) })
			}
			if g.json {
				return quietExit(cmd, followJSON(ctx, c, d.ID, cmd.OutOrStdout()))
			}
			return followDeployment(ctx, cmd, c, d)
		},
	}
	cmd.Flags().StringArrayVarP(&env, "env", "e", nil, "set an environment variable of the service for this revision (KEY=VALUE), repeatable")
	cmd.Flags().BoolVar(&wait, "wait", true, "follow the deployment until it ends; the exit code says how it ended")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "same as --wait=false")
	cmd.Flags().MarkHidden("no-wait")
	return cmd
}

// followDeployment shows d's progress until it ends and exits as deploy
// --wait does.
func followDeployment(ctx context.Context, cmd *cobra.Command, c *api.Client, d store.Deployment) error {
	desired := 0
	if a, err := c.App(ctx, d.App); err == nil {
		desired = a.DesiredCount
	}
	p := newProgress(cmd.OutOrStdout(), desired)
	if err := followProgress(ctx, c, d.ID, p); err != nil {
		return err
	}
	return quietExit(cmd, deploymentExit(p.final))
}

// followProgress shows a deployment's progress until it ends, redrawing
// the live line on a terminal as the clock runs.
func followProgress(ctx context.Context, c *api.Client, id string, p *progress) error {
	if p.live {
		ticker := time.NewTicker(200 * time.Millisecond)
		defer ticker.Stop()
		tickCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			for {
				select {
				case <-tickCtx.Done():
					return
				case <-ticker.C:
					p.tick()
				}
			}
		}()
	}
	err := c.Follow(ctx, id, p.event)
	p.close()
	return err
}

// followJSON prints a deployment's events as JSON lines until it ends,
// and exits as deploymentExit says.
func followJSON(ctx context.Context, c *api.Client, id string, w io.Writer) error {
	enc := json.NewEncoder(w)
	var final *store.Deployment
	err := c.Follow(ctx, id, func(ev store.Event) bool {
		enc.Encode(ev)
		if ev.Type != store.EventDeploymentStatus {
			return true
		}
		var ch store.DeploymentChange
		if json.Unmarshal(ev.Data, &ch) == nil && ch.Deployment.ID == id && !ch.Deployment.Active() {
			final = &ch.Deployment
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	return deploymentExit(final)
}

func newAppsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List the apps of the running cutover",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			apps, err := c.Apps(cmd.Context())
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, apps, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				previews := anyPreview(apps)
				if previews {
					fmt.Fprintln(tw, "APP\tREVISION\tHEALTHY/DESIRED\tTRAFFIC\tPREVIEW OF")
				} else {
					fmt.Fprintln(tw, "APP\tREVISION\tHEALTHY/DESIRED\tTRAFFIC")
				}
				for _, a := range apps {
					fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s", a.Name, orDash(a.CurrentRevision), a.HealthyTasks, a.DesiredCount, appTraffic(a))
					if previews {
						fmt.Fprintf(tw, "\t%s", previewColumn(a))
					}
					fmt.Fprintln(tw)
				}
				tw.Flush()
			})
		},
	}
	cmd.AddCommand(newAppsDestroyCmd(g))
	return cmd
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status [app]",
		Short: "Show the apps of the running cutover: revision, tasks, traffic, last deployment",
		Long: `Without an app: one line per app, then the ACME certificates (host, state,
expiry, last error) when a listener has tls: auto. With an app: its tasks too,
and its last deployment's steps.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if len(args) == 1 {
				return appStatus(cmd, g, c, args[0])
			}
			apps, err := c.Apps(ctx)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, apps, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "APP\tREVISION\tHEALTHY/DESIRED\tTRAFFIC\tLAST DEPLOYMENT")
				for _, a := range apps {
					last := "-"
					if d := a.LastDeployment; d != nil {
						last = fmt.Sprintf("%s %s (%s ago)", d.ID, d.Status, ago(d.CreatedAt))
					}
					fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", a.Name, orDash(a.CurrentRevision), a.HealthyTasks, a.DesiredCount, appTraffic(a), last)
				}
				tw.Flush()
				// The ACME certificates, when any listener has tls: auto
				// (all of them: cutover certs).
				if certs, err := c.Certificates(ctx); err == nil && len(certs) > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
					printCerts(cmd, certs)
				}
			})
		},
	}
}

// appStatus prints one app: its summary, tasks and last deployment.
func appStatus(cmd *cobra.Command, g *globalFlags, c *api.Client, name string) error {
	ctx := cmd.Context()
	a, err := c.App(ctx, name)
	if err != nil {
		return err
	}
	var last *api.DeploymentDetail
	if a.LastDeployment != nil {
		d, err := c.Deployment(ctx, a.LastDeployment.ID)
		if err != nil {
			return err
		}
		last = &d
	}
	if g.json {
		return printJSONOr(cmd, g, struct {
			api.AppStatus
			LastDeployment *api.DeploymentDetail `json:"last_deployment,omitempty"`
		}{a, last}, nil)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "App:       %s\n", a.Name)
	fmt.Fprintf(w, "Revision:  %s\n", orDash(a.CurrentRevision))
	fmt.Fprintf(w, "Healthy:   %d/%d\n", a.HealthyTasks, a.DesiredCount)
	fmt.Fprintf(w, "Traffic:   %s\n", appTraffic(a))
	fmt.Fprintln(w)
	printTasks(w, a.Tasks)
	if last != nil {
		fmt.Fprintf(w, "\nLast deployment %s: %s → %s, %s (%s ago)\n", last.ID, orDash(last.FromRevision), last.ToRevision, last.Status, ago(last.CreatedAt))
		for _, le := range last.Lifecycle {
			took := ""
			if !le.EndedAt.IsZero() {
				took = duration(le.EndedAt.Sub(le.StartedAt))
			}
			fmt.Fprintf(w, "  %-22s %-10s %s\n", le.Name, le.Status, took)
		}
		if last.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", last.Error)
		}
	}
	return nil
}

func newHistoryCmd(g *globalFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history [app]",
		Short: "List deployments, newest first",
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
			deps, err := c.Deployments(cmd.Context(), app, limit)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, deps, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DEPLOYMENT\tAPP\tFROM\tTO\tSTRATEGY\tSTATUS\tSTARTED\tTOOK\tERROR")
				for _, d := range deps {
					took := "-"
					if !d.EndedAt.IsZero() {
						took = duration(d.EndedAt.Sub(d.CreatedAt))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.App, orDash(d.FromRevision), d.ToRevision,
						strategyName(d.Strategy), d.Status, d.CreatedAt.Local().Format(time.DateTime), took, orDash(d.Error))
				}
				tw.Flush()
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many deployments, 1 to 1000")
	return cmd
}

func newActionCmd(g *globalFlags, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " <deployment-id>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.Act(cmd.Context(), args[0], action)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, d, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s)\n", d.ID, d.Status, d.Step)
			})
		},
	}
}

// printJSONOr prints v as indented JSON with --json, else calls text.
func printJSONOr(cmd *cobra.Command, g *globalFlags, v any, text func()) error {
	if !g.json {
		text()
		return nil
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func traffic(w map[string]int) string {
	if len(w) == 0 {
		return "-"
	}
	return weights(w)
}

func ago(t time.Time) string {
	return duration(time.Since(t).Round(time.Second))
}
