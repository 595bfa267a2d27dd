package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
)

func newUpgradeCmd(g *globalFlags) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Replace the running cutover, data plane and control plane, with the binary on disk",
		Long: `Replace the running cutover with the cutover binary now on disk (the path
it was started from), without a failed request: a new data plane takes the
listening sockets over from the old one, which drains and exits; then the
control plane restarts into the new binary, keeping the API's sockets, and
attaches to the data plane and the running tasks again. Deployments in
progress carry on. Needs the admin role.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			start := time.Now()
			res, err := c.Upgrade(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "binary: %s\n", res.Executable)
			fmt.Fprintf(out, "data plane: pid %d took over the sockets from pid %d in %s\n",
				res.DataPlaneNew, res.DataPlaneOld, time.Since(start).Round(time.Millisecond))
			restarted := time.Now()
			info, err := waitNewInstance(ctx, c, res.Instance)
			if err != nil {
				return fmt.Errorf("the control plane did not come back: %w", err)
			}
			fmt.Fprintf(out, "control plane: restarted (pid %d, instance %s → %s) and answered after %s\n",
				info.PID, res.Instance, info.Instance, time.Since(restarted).Round(time.Millisecond))
			fmt.Fprintf(out, "now running: control plane %s, data plane %s (pid %d)\n",
				info.Version, info.DataPlane.Version, info.DataPlane.PID)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

// waitNewInstance waits until the API answers from a control plane other
// than instance.
func waitNewInstance(ctx context.Context, c *api.Client, instance string) (api.SystemInfo, error) {
	for {
		info, err := c.System(ctx)
		if err == nil && info.Instance != instance {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
