package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/config"
)

func newScaleCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "scale <app> <count>",
		Short: "Set an app's task count without a new revision",
		Long: `Set the app's desired count, as ECS's UpdateService desiredCount does: new
tasks of the current revision join the load balancer once healthy; tasks
beyond the count are deregistered, drained and stopped. Refused while a
deployment runs. Later deployments keep the count while cutover.yaml's
service.count is the one it was scaled from; a changed service.count wins.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			count, err := strconv.Atoi(args[1])
			if err != nil || count < 1 || count > config.MaxCount {
				return fmt.Errorf("count %q: give a whole number of tasks, 1-%d", args[1], config.MaxCount)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.Scale(cmd.Context(), args[0], count)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, a, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: desired count %d; `cutover status %s` shows the tasks\n", a.Name, a.DesiredCount, a.Name)
			})
		},
	}
}

func newRestartCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "restart <app>",
		Short: "Replace every task of an app's current revision, health-gated",
		Long: `Start as many new tasks of the current revision as run; once all of them
are healthy, deregister, drain and stop the old ones (heroku ps:restart, ECS
force-new-deployment). Returns once the new tasks are healthy. Refused while a
deployment runs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.Restart(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, a, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d new tasks healthy; the old ones are draining\n", a.Name, a.DesiredCount)
			})
		},
	}
}
