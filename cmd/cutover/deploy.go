package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

func (g *globalFlags) client() *api.Client {
	socket := g.server
	if socket == "" {
		socket = filepath.Join(g.dataDir, "cutover.sock")
	}
	return api.NewClient(socket)
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

func newDeployCmd(g *globalFlags) *cobra.Command {
	var env []string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "deploy [dir]",
		Short: "Deploy the app in dir (default .) to the running cutover and follow it",
		Long: `Send the app in dir (its cutover.yaml and release files) to the running
cutover, which checks it, snapshots the release and starts a deployment. The
progress is shown until the deployment ends; the exit code is 0 only when it
Succeeded.`,
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
			c := g.client()
			d, err := c.Deploy(cmd.Context(), api.DeployRequest{Dir: abs, Env: overrides})
			if err != nil {
				return err
			}
			if noWait {
				return printJSONOr(cmd, g, d, func() { fmt.Fprintf(cmd.OutOrStdout(), "started deployment %s\n", d.ID) })
			}
			p := follow(cmd.Context(), c, d.ID, cmd.OutOrStdout())
			if p.final == nil || p.final.Status != store.DeploymentSucceeded {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&env, "env", "e", nil, "set an environment variable of the service for this revision (KEY=VALUE), repeatable")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the deployment started")
	return cmd
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the apps of the running cutover: revision, tasks, traffic, last deployment",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			apps, err := g.client().Apps(cmd.Context())
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, apps, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "APP\tREVISION\tHEALTHY/DESIRED\tTRAFFIC\tLAST DEPLOYMENT")
				for _, a := range apps {
					last := "-"
					if d := a.LastDeployment; d != nil {
						last = fmt.Sprintf("%s %s (%s ago)", d.ID, d.Status, time.Since(d.CreatedAt).Round(time.Second))
					}
					traffic := "-"
					if a.ProductionWeight != nil {
						traffic = weights(a.ProductionWeight)
					}
					fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", a.Name, a.CurrentRevision, a.HealthyTasks, a.DesiredCount, traffic, last)
				}
				tw.Flush()
			})
		},
	}
}

func newActionCmd(g *globalFlags, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " <deployment-id>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.client().Act(cmd.Context(), args[0], action)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, d, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s)\n", d.ID, d.Status, d.Step)
			})
		},
	}
}

func printJSONOr(cmd *cobra.Command, g *globalFlags, v any, text func()) error {
	if !g.json {
		text()
		return nil
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
