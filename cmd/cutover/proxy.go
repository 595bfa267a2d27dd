package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/lb"
)

func newProxyCmd(g *globalFlags) *cobra.Command {
	var configPath string
	var shutdownTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run cutover as a standalone health-checking, weighted load balancer",
		Long: `Serve the listeners and target groups of an lb.yaml file (see docs/lb.md).

SIGHUP or 'cutover proxy reload' re-reads the file without dropping a
connection; an invalid file is refused and the running configuration keeps
serving. SIGUSR2 or 'cutover proxy upgrade' replaces the process with the
binary on disk without dropping a connection: the new process inherits the
listening sockets and serves, then this one drains and exits (as nginx
does; the new process has a new pid). SIGINT or SIGTERM shut down
gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProxy(cmd.Context(), g.logger(cmd.ErrOrStderr()), configPath, shutdownTimeout)
		},
	}
	cmd.PersistentFlags().StringVarP(&configPath, "config", "c", "lb.yaml", "load balancer configuration file")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may finish on shutdown")
	cmd.AddCommand(newProxyCheckCmd(&configPath))
	cmd.AddCommand(newProxyAdminCmds(g, &configPath)...)
	return cmd
}

// runProxy serves configPath until a signal or an upgrade ends it.
func runProxy(ctx context.Context, log *slog.Logger, configPath string, shutdownTimeout time.Duration) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := lb.Start(ctx, configPath, log)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		select {
		case <-hup:
			srv.Reload(ctx) // errors are logged; the old config keeps serving
		case <-usr2:
			if upgradeProxy(srv, log, nil, shutdownTimeout) {
				return nil
			}
		case req := <-srv.Upgrades():
			if upgradeProxy(srv, log, &req, shutdownTimeout) {
				return nil
			}
		case <-ctx.Done():
			log.Info("shutting down", "timeout", shutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			return srv.Close(sctx)
		}
	}
}

func newProxyCheckCmd(configPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check an lb.yaml file without running it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadLB(*configPath)
			if err != nil {
				return err
			}
			targets := 0
			for _, tg := range cfg.Proxy.TargetGroups {
				targets += len(tg.Targets)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (%d listeners, %d target groups, %d targets)\n",
				*configPath, len(cfg.Proxy.Listeners), len(cfg.Proxy.TargetGroups), targets)
			return nil
		},
	}
}

// newProxyAdminCmds are the commands that call a running proxy's admin
// endpoint: reload, targets and upgrade.
func newProxyAdminCmds(g *globalFlags, configPath *string) []*cobra.Command {
	var admin string
	adminAddr := func() string {
		if admin != "" {
			return admin
		}
		if cfg, err := config.LoadLB(*configPath); err == nil && cfg.Admin != "off" {
			return cfg.Admin
		}
		return config.DefaultAdmin
	}
	post := func(use, short, path string) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				body, err := adminCall(cmd.Context(), http.MethodPost, adminAddr(), path)
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), body)
				return nil
			},
		}
	}
	reload := post("reload", "Make a running 'cutover proxy' re-read its configuration file", "/reload")
	upgrade := post("upgrade", "Replace a running 'cutover proxy' with the binary on disk, hitless (as SIGUSR2)", "/upgrade")
	targets := &cobra.Command{
		Use:   "targets",
		Short: "Show the targets of a running 'cutover proxy' and their health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := adminCall(cmd.Context(), http.MethodGet, adminAddr(), "/targets")
			if err != nil {
				return err
			}
			if g.json {
				fmt.Fprint(cmd.OutOrStdout(), body)
				return nil
			}
			return printTargets(cmd.OutOrStdout(), body)
		},
	}
	cmds := []*cobra.Command{reload, targets, upgrade}
	for _, c := range cmds {
		c.Flags().StringVar(&admin, "admin", "", "admin address of the running proxy (default: from --config, else "+config.DefaultAdmin+")")
	}
	return cmds
}

// printTargets prints the admin endpoint's /targets answer as a table.
func printTargets(w io.Writer, body string) error {
	var states []struct {
		Group, Target, State, Reason string
		InFlight                     int
	}
	if err := json.Unmarshal([]byte(body), &states); err != nil {
		return fmt.Errorf("reading targets from the admin endpoint: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTARGET\tSTATE\tIN-FLIGHT\tREASON")
	for _, s := range states {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.Group, s.Target, s.State, s.InFlight, s.Reason)
	}
	return tw.Flush()
}

// adminCall calls the admin endpoint of a running proxy and returns the
// response body; a non-2xx answer is an error carrying the body.
func adminCall(ctx context.Context, method, addr, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("calling the proxy's admin endpoint at %s (is 'cutover proxy' running?): %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading the admin endpoint's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s", strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// upgradeProxy starts the binary on disk as this proxy's successor and,
// once it serves, drains this process; it reports whether it did. A
// failed upgrade is logged (and answered to req) and this process keeps
// serving.
func upgradeProxy(srv *lb.Server, log *slog.Logger, req *lb.UpgradeRequest, drain time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exe, err := os.Executable()
	pid := 0
	if err == nil {
		pid, err = srv.StartSuccessor(ctx, exe, os.Args[1:])
	}
	if req != nil {
		req.Reply(pid, err)
	}
	if err != nil {
		log.Error("upgrade failed; this process keeps serving", "err", err)
		return false
	}
	log.Info("upgraded: the new process serves; draining this one", "pid", pid, "drain", drain)
	dctx, dcancel := context.WithTimeout(context.Background(), drain)
	defer dcancel()
	if err := srv.HandOver(dctx); err != nil {
		log.Warn("draining after the upgrade", "err", err)
	}
	return true
}
