package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/config"
)

func newNotificationsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notifications",
		Short: "Webhooks called on deployment and pipeline events, and their deliveries",
		Long: `An app's webhooks: those of its cutover.yaml (notifications:) and those added
here. Each gets a signed JSON POST on the events it selects (all when none):
` + strings.Join(config.NotificationEvents, ", ") + `,
or deployment.*, pipeline.*. docs/notifications.md has the body and how to
check X-Cutover-Signature.`,
	}
	cmd.AddCommand(newNotificationsListCmd(g), newNotificationsAddCmd(g), newNotificationsRemoveCmd(g),
		newNotificationsDeliveriesCmd(g))
	return cmd
}

func newNotificationsListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list <app>",
		Short: "List an app's webhooks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ans, err := c.Notifications(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, ans, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tURL\tEVENTS\tSIGNED")
				for _, w := range ans.Webhooks {
					signed := map[bool]string{true: "yes", false: "no"}[w.HasSecret]
					if w.SecretEnv != "" {
						signed = "$" + w.SecretEnv
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.ID, w.URL, orAll(w.Events), signed)
				}
				tw.Flush()
			})
		},
	}
}

func orAll(events []string) string {
	if len(events) == 0 {
		return "all"
	}
	return strings.Join(events, ",")
}

func newNotificationsAddCmd(g *globalFlags) *cobra.Command {
	var events []string
	var secretStdin bool
	cmd := &cobra.Command{
		Use:   "add <app> <url>",
		Short: "Add a webhook to an app",
		Long: `Add a webhook called with a JSON POST on the app's events (--events, all when
not given). With --secret-stdin the first line of standard input is the
secret that signs each body (X-Cutover-Signature: sha256=HMAC); cutover keeps
it sealed and never shows it again. Needs the deploy role.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, e := range events {
				if err := config.CheckNotificationEvent(e); err != nil {
					return fmt.Errorf("--events: %w", err)
				}
			}
			if err := config.CheckNotificationURL(args[1]); err != nil {
				return fmt.Errorf("url: %w", err)
			}
			req := api.NotificationRequest{URL: args[1], Events: events}
			if secretStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return fmt.Errorf("reading the secret from stdin: %w", err)
				}
				req.Secret, _, _ = strings.Cut(string(b), "\n")
				if req.Secret = strings.TrimRight(req.Secret, "\r"); req.Secret == "" {
					return fmt.Errorf("--secret-stdin: standard input has no secret on its first line")
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			w, err := c.AddNotification(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, w, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: added webhook %s (%s) on %s\n", args[0], w.ID, w.URL, orAll(w.Events))
			})
		},
	}
	cmd.Flags().StringSliceVar(&events, "events", nil, "events to call it on, comma-separated (default all)")
	cmd.Flags().BoolVar(&secretStdin, "secret-stdin", false, "read the signing secret from the first line of stdin")
	return cmd
}

func newNotificationsRemoveCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove <app> <id|url>",
		Short: "Remove a webhook added with notifications add",
		Long: `Remove a webhook added with notifications add, by its id (notifications list)
or its URL. Its pending deliveries fail. Webhooks of cutover.yaml are removed
by deploying a cutover.yaml without them. Needs the deploy role.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.HasPrefix(args[1], "cutover.yaml#") {
				return fmt.Errorf("%s is in %s's cutover.yaml: deploy it without that webhook to remove it", args[1], args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			w, err := c.RemoveNotification(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, w, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: removed webhook %s (%s)\n", args[0], w.ID, w.URL)
			})
		},
	}
}

func newNotificationsDeliveriesCmd(g *globalFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "deliveries <app>",
		Short: "List an app's newest deliveries and their attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("--limit %d: give 1-1000", limit)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ds, err := c.NotificationDeliveries(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, ds, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CREATED\tEVENT\tSUBJECT\tWEBHOOK\tSTATUS\tATTEMPTS\tLAST ERROR / ATTEMPT")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.CreatedAt.Local().Format(time.DateTime), d.Event,
						orDash(d.Subject), d.Hook, d.Status, d.Attempts, orDash(d.LastError))
					for _, a := range d.AttemptLog {
						answer := orDash(a.Error)
						if a.StatusCode != 0 && a.Error == "" {
							answer = fmt.Sprint(a.StatusCode)
						}
						fmt.Fprintf(tw, "  #%d %s\t\t\t\t\t\t%s (%s)\n", a.N, a.At.Local().Format(time.TimeOnly), answer,
							a.Duration.Round(time.Millisecond))
					}
				}
				tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many deliveries, newest first (1-1000)")
	return cmd
}
