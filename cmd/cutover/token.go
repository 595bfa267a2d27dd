package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
)

func newTokenCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (admin)",
		Long: `API tokens let scripts and other machines use cutover's API over TCP.
A token has a role: read (every GET but the pipeline secret), deploy (read +
deploy, continue, stop, rollback, and start, stop, approve and reject pipeline
executions) or admin (deploy + tokens, pipeline settings and secrets). The unix socket in the data directory
is admin without a token: that is how the first token is made.`,
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globalFlags) *cobra.Command {
	var req api.TokenRequest
	cmd := &cobra.Command{
		Use:   "create --role read|deploy|admin [--name NAME]",
		Short: "Create a token; it is shown once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tk, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, tk, func() {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "Created token %s (role %s). It is shown only now; keep it secret:\n\n%s\n\n", tk.Name, tk.Role, tk.Secret)
				fmt.Fprintf(w, "Use it with: CUTOVER_SERVER=http://127.0.0.1:9190 CUTOVER_TOKEN=%s cutover status\n", tk.Secret)
			})
		},
	}
	cmd.Flags().StringVar(&req.Role, "role", "", "read, deploy or admin (required)")
	cmd.Flags().StringVar(&req.Name, "name", "", "a name for the audit log (default token-<id>)")
	cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tks, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, tks, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED\tREVOKED")
				for _, tk := range tks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tk.Name, tk.Role, stamp(tk.CreatedAt), stamp(tk.LastUsedAt), stamp(tk.RevokedAt))
				}
				tw.Flush()
			})
		},
	}
}

func newTokenRevokeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke <name>",
		Short: "Revoke a token: every call with it is refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tk, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, tk, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s\n", tk.Name)
			})
		},
	}
}

// stamp is a time in the local zone, "-" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
