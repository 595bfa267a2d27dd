package main

import (
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "cutover",
		Short:         "Zero-downtime deployments behind cutover's own load balancer",
		SilenceUsage:  true,
		SilenceErrors: false,
		Version:       version,
	}
	return root
}
