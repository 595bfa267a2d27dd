package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// envFlags are the flags env set and unset share.
type envFlags struct {
	build    bool
	noDeploy bool
	wait     bool
}

func (f *envFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.build, "build", false, "the app's build-time variables instead of its tasks'")
	cmd.Flags().BoolVar(&f.noDeploy, "no-deploy", false, "store the change only; the next deployment takes it")
	cmd.Flags().BoolVar(&f.wait, "wait", true, "follow the deployment that releases the change until it ends")
}

func (f *envFlags) scope() string {
	if f.build {
		return store.ScopeBuild
	}
	return store.ScopeRun
}

func newEnvCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Set, unset and list an app's config vars and secrets",
		Long: `An app's config vars live in cutover's store and win over cutover.yaml's
service.env in every deployment. Setting or unsetting them releases a new
revision of the current release with the app's own strategy (health-gated,
rolled back like any deployment), as heroku config:set does. --build changes
the variables given to the app's builds instead, which take effect with the
next build. Secret values are sealed at rest and shown only to admin with
--reveal.`,
	}
	cmd.AddCommand(newEnvSetCmd(g), newEnvUnsetCmd(g), newEnvListCmd(g))
	return cmd
}

func newEnvSetCmd(g *globalFlags) *cobra.Command {
	var f envFlags
	var secret bool
	cmd := &cobra.Command{
		Use:   "set <app> KEY=VALUE... | set <app> --secret KEY < value",
		Short: "Set config vars and release them as a new revision",
		Long: `Set config vars. With --secret they are sealed at rest and masked in every
answer, event and log. A secret's value can come from standard input instead
of the command line (which other users of the machine may see): give KEY
alone and pipe the value in; one trailing newline is dropped.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.EnvRequest{Scope: f.scope(), NoDeploy: f.noDeploy}
			for _, arg := range args[1:] {
				name, value, ok := strings.Cut(arg, "=")
				if !ok {
					if !secret || len(args) != 2 {
						return fmt.Errorf("%q: write KEY=VALUE (or --secret KEY alone, the value on standard input)", arg)
					}
					b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
					if err != nil {
						return fmt.Errorf("reading the value of %s from standard input: %w", name, err)
					}
					value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
				}
				req.Set = append(req.Set, api.EnvVar{Name: name, Value: value, Secret: secret})
			}
			return changeEnv(cmd, g, &f, args[0], req)
		},
	}
	cmd.Flags().BoolVar(&secret, "secret", false, "seal the values at rest and mask them everywhere")
	f.add(cmd)
	return cmd
}

func newEnvUnsetCmd(g *globalFlags) *cobra.Command {
	var f envFlags
	cmd := &cobra.Command{
		Use:   "unset <app> KEY...",
		Short: "Remove config vars and release the change as a new revision",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeEnv(cmd, g, &f, args[0], api.EnvRequest{Scope: f.scope(), Unset: args[1:], NoDeploy: f.noDeploy})
		},
	}
	f.add(cmd)
	return cmd
}

// changeEnv sends the change and follows the deployment releasing it.
func changeEnv(cmd *cobra.Command, g *globalFlags, f *envFlags, app string, req api.EnvRequest) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	a, err := c.ChangeEnv(ctx, app, req)
	if err != nil {
		return err
	}
	d := a.Deployment
	if d == nil || !f.wait || g.json {
		return printJSONOr(cmd, g, a, func() {
			out := cmd.OutOrStdout()
			switch {
			case d != nil:
				fmt.Fprintf(out, "%s: config vars changed; deployment %s releases them\n", app, d.ID)
			case req.Scope == store.ScopeBuild:
				fmt.Fprintf(out, "%s: build variables changed; the next build takes them\n", app)
			default:
				fmt.Fprintf(out, "%s: config vars changed; the next deployment takes them\n", app)
			}
		})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: config vars changed; deployment %s releases them\n", app, d.ID)
	return followDeployment(ctx, cmd, c, *d)
}

func newEnvListCmd(g *globalFlags) *cobra.Command {
	var build, reveal bool
	cmd := &cobra.Command{
		Use:   "list <app>",
		Short: "List an app's config vars; secret values only with --reveal (admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			scope := store.ScopeRun
			if build {
				scope = store.ScopeBuild
			}
			a, err := c.Env(cmd.Context(), args[0], scope, reveal)
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, a, func() {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tVALUE\tSECRET")
				for _, v := range a.Vars {
					fmt.Fprintf(tw, "%s\t%s\t%v\n", v.Name, v.Value, v.Secret)
				}
				tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&build, "build", false, "the app's build-time variables")
	cmd.Flags().BoolVar(&reveal, "reveal", false, "show secret values (admin role)")
	return cmd
}
