package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// globalFlags are the flags every subcommand shares.
type globalFlags struct {
	logLevel  string
	logFormat string
	json      bool
	dataDir   string
	server    string
	token     string
}

func (g *globalFlags) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:          "cutover",
		Short:        "Zero-downtime deployments behind cutover's own load balancer",
		SilenceUsage: true,
		Version:      version,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("CUTOVER_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("CUTOVER_LOG_FORMAT", "text"), "log format: text or json")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print machine-readable JSON")
	root.PersistentFlags().StringVar(&g.dataDir, "data", defaultDataDir(), "data directory: store, tasks, releases, API socket (env CUTOVER_DATA)")
	root.PersistentFlags().StringVar(&g.server, "server", os.Getenv("CUTOVER_SERVER"), "a running cutover: its API socket or an http(s):// URL (default: <data>/cutover.sock; env CUTOVER_SERVER)")
	root.PersistentFlags().StringVar(&g.token, "token", "", "API token for an http(s) server (env CUTOVER_TOKEN)")
	root.AddCommand(
		newProxyCmd(g),
		newDataPlaneCmd(g),
		newUpgradeCmd(g),
		newUpCmd(g),
		newDeployCmd(g),
		newBuildCmd(g),
		newAppsCmd(g),
		newStatusCmd(g),
		newCertsCmd(g),
		newScaleCmd(g),
		newRestartCmd(g),
		newRunCmd(g),
		newEnvCmd(g),
		newMaintenanceCmd(g),
		newHistoryCmd(g),
		newTasksCmd(g),
		newLogsCmd(g),
		newActionCmd(g, "continue", "Continue a deployment held in its ready wait, or end its termination wait"),
		newActionCmd(g, "stop", "Stop a deployment: traffic back to the original task set, the new one stopped"),
		newRollbackCmd(g),
		newReleasesCmd(g),
		newPipelineCmd(g),
		newNotificationsCmd(g),
		newTokenCmd(g),
	)
	return root
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
