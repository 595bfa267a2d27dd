package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAppsDestroyCmd(g *globalFlags) *cobra.Command {
	var confirm string
	cmd := &cobra.Command{
		Use:   "destroy <app> --confirm <app>",
		Short: "Destroy an app: drain and stop its tasks, free its hosts, delete it",
		Long: `Take an app out of service for good: its tasks are deregistered from the
load balancer, drained (its deregistration delay) and stopped; its routes leave
the shared listeners, which frees its hosts for other apps; its revisions,
deployments and release directories are deleted. Other apps keep serving.
Refused while a deployment of the app runs. Needs the admin role.

--confirm repeats the app's name, as heroku apps:destroy asks.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app := args[0]
			if confirm != app {
				return fmt.Errorf("destroying %s deletes it with its history; repeat its name: cutover apps destroy %s --confirm %s", app, app, app)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DestroyApp(cmd.Context(), app); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s destroyed: its tasks drained and stopped, its hosts freed\n", app)
			return nil
		},
	}
	cmd.Flags().StringVar(&confirm, "confirm", "", "the app's name again")
	return cmd
}
