package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/dataplane"
)

func newDataPlaneCmd(g *globalFlags) *cobra.Command {
	var takeover bool
	cmd := &cobra.Command{
		Use:   "dataplane",
		Short: "Run the data plane (load balancer and health checks) of a data directory",
		Long: `Run the data plane that 'cutover up' starts on its own: the load balancer,
its health checks and metrics, driven by the control plane over
<data>/dataplane.sock. It keeps serving its last configuration while no
control plane is connected. You rarely run it by hand.

--takeover replaces the data plane running on the data directory without
dropping a connection: the listening sockets are handed over, then the old
process drains and exits ('cutover upgrade' does this).
SIGINT or SIGTERM drain the connections and stop it.`,
		Args:   cobra.NoArgs,
		Hidden: false,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			syscall.Umask(0o077) // the control socket and state are the owner's only
			if err := os.MkdirAll(g.dataDir, 0o700); err != nil {
				return err
			}
			exe, _ := os.Executable()
			dir, err := filepath.Abs(g.dataDir)
			if err != nil {
				return err
			}
			return dataplane.Run(ctx, dataplane.Options{
				DataDir: dir, Logger: g.logger(cmd.ErrOrStderr()), TakeOver: takeover, Executable: exe, Build: version,
			})
		},
	}
	cmd.Flags().BoolVar(&takeover, "takeover", false, "take the sockets over from the data plane running on the data directory")
	return cmd
}
