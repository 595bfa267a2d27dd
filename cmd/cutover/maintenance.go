package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/deploy"
)

func newMaintenanceCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Put an app in maintenance mode: production answers 503 with a page",
		Long: `While an app is in maintenance mode, its production listener answers every
request with 503 Service Unavailable, an HTML page and a Retry-After header,
as kamal-proxy's stop and an ALB fixed-response action do. Its tasks keep
running and being health-checked, deployments go on (and stay in maintenance
when they end), and the test listener keeps forwarding. Off is instant and
keeps clients' connections. The mode survives restarts of cutover.`,
	}
	cmd.AddCommand(newMaintenanceOnCmd(g), newMaintenanceOffCmd(g), newMaintenanceStatusCmd(g))
	return cmd
}

func newMaintenanceOnCmd(g *globalFlags) *cobra.Command {
	var pageFile string
	var retryAfter int
	cmd := &cobra.Command{
		Use:   "on <app> [--page FILE] [--retry-after SECONDS]",
		Short: "Turn maintenance mode on, or change its page or Retry-After",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if retryAfter < 1 || retryAfter > deploy.MaxMaintenanceRetryAfter {
				return fmt.Errorf("--retry-after %d: out of range; valid: 1-%d seconds", retryAfter, deploy.MaxMaintenanceRetryAfter)
			}
			req := api.MaintenanceRequest{RetryAfter: &retryAfter}
			if pageFile != "" {
				page, err := readPage(pageFile)
				if err != nil {
					return err
				}
				req.Page = page
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.SetMaintenance(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, m, func() { printMaintenance(cmd.OutOrStdout(), m) })
		},
	}
	cmd.Flags().StringVar(&pageFile, "page", "", "HTML file to answer with, at most 1 MiB (default: a plain page naming the app)")
	cmd.Flags().IntVar(&retryAfter, "retry-after", api.DefaultRetryAfter, "seconds clients are asked to wait (Retry-After), 1-86400")
	return cmd
}

func newMaintenanceOffCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "off <app>",
		Short: "Turn maintenance mode off: production forwards again at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.ClearMaintenance(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, m, func() { printMaintenance(cmd.OutOrStdout(), m) })
		},
	}
}

func newMaintenanceStatusCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status <app>",
		Short: "Show whether an app is in maintenance mode",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.Maintenance(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, m, func() { printMaintenance(cmd.OutOrStdout(), m) })
		},
	}
}

func printMaintenance(w io.Writer, m api.MaintenanceAnswer) {
	if !m.On {
		fmt.Fprintf(w, "%s: maintenance off; production forwards to the app\n", m.App)
		return
	}
	page := fmt.Sprintf("a %d-byte page", m.PageBytes)
	if m.DefaultPage {
		page = "the default page"
	}
	fmt.Fprintf(w, "%s: maintenance on since %s: production answers 503 with %s, Retry-After: %d\n",
		m.App, m.Since.Local().Format(time.DateTime), page, m.RetryAfter)
}

// readPage reads a maintenance page: UTF-8, not empty, at most 1 MiB.
func readPage(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("--page: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, deploy.MaxMaintenancePage+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("--page: reading %s: %w", name, err)
	case len(b) > deploy.MaxMaintenancePage:
		return "", fmt.Errorf("--page %s: over %d bytes; valid: a page of at most 1 MiB", name, deploy.MaxMaintenancePage)
	case len(b) == 0:
		return "", errors.New("--page " + name + ": the file is empty; leave --page out for the default page")
	case !utf8.Valid(b):
		return "", errors.New("--page " + name + ": not UTF-8 text; valid: an HTML page in UTF-8")
	}
	return string(b), nil
}

// appTraffic is an app's production traffic for `cutover status`: its
// weights, or that maintenance mode answers instead.
func appTraffic(a api.AppStatus) string {
	if m := a.Maintenance; m != nil {
		return fmt.Sprintf("maintenance: 503 since %s", m.Since.Local().Format(time.DateTime))
	}
	return traffic(a.ProductionWeight)
}
