package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/deploy"
)

func newReleasesCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "releases <app>",
		Short: "List an app's revisions: commit, time, who, status, release and its size; what they take on disk",
		Long: `List an app's revisions, newest first: the commit, when it was made, who
started its newest deployment, its status (running, deploying, previous,
retired, failed, rolled_back, stopped, never_deployed), and its release: the
release directory with its size (process runtime), "removed" once retention
removed it, or the image (docker). "= rN" marks a revision with the same
release as the older rN (an env change, a rollback). Go back to one with
cutover rollback APP --to REVISION.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			l, err := c.Releases(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, l, func() { printReleases(cmd, l) })
		},
	}
}

func printReleases(cmd *cobra.Command, l deploy.ReleaseList) {
	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tCOMMIT\tCREATED\tBY\tSTATUS\tDEPLOYMENT\tRELEASE\tSIZE")
	for _, r := range l.Releases {
		release, size := filepath.Base(r.Artifact), bytesSize(r.Size)
		switch {
		case r.Image:
			release, size = r.Artifact, "image"
		case !r.Available:
			size = "removed"
		}
		if r.SameAs != "" {
			release += " (= " + shortRevision(l.App, r.SameAs) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Revision, orDash(shortSHA(r.Commit)),
			r.CreatedAt.Local().Format(time.DateTime), orDash(r.Actor), r.Status, orDash(r.Deployment), orDash(release), size)
	}
	tw.Flush()
	keeps := "keeps every release"
	if l.Retain > 0 {
		keeps = fmt.Sprintf("keeps the newest %d", l.Retain)
	}
	fmt.Fprintf(out, "%d revisions; release directories take %s on disk; retention %s\n", len(l.Releases), bytesSize(l.DiskBytes), keeps)
}

func shortSHA(commit string) string { return commit[:min(len(commit), 12)] }

// shortRevision is "r3" for "<app>-r3".
func shortRevision(app, id string) string {
	if len(id) > len(app)+1 && id[:len(app)+1] == app+"-" {
		return id[len(app)+1:]
	}
	return id
}

// bytesSize is n in B, KiB, MiB or GiB.
func bytesSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

// deploymentID is what `cutover rollback` takes without --to.
var deploymentID = regexp.MustCompile(`^.+-d[1-9][0-9]*$`)

func newRollbackCmd(g *globalFlags) *cobra.Command {
	var to string
	var wait bool
	cmd := &cobra.Command{
		Use:   "rollback (<deployment-id> | <app> --to <revision>)",
		Short: "Roll a deployment back, or deploy an earlier revision of an app again (--to)",
		Long: `cutover rollback DEPLOYMENT rolls a deployment in progress back (also during
its termination wait): traffic back to the original task set, which still runs.

cutover rollback APP --to REVISION deploys an earlier revision of APP again
(3, r3 or APP-r3, as cutover releases lists them), without a build: its release
directory or image and its cutover.yaml configuration as recorded, with the
app's current config vars (cutover env) and task count, through the app's
strategy (blue/green or rolling, health-gated, rolled back on failure), as a
new revision. It follows the deployment and exits as cutover deploy does
(0 Succeeded, 1 Failed, 2 RolledBack, 3 Stopped). Refused when the revision's
release was removed by retention, it runs already, or a deployment runs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" && !deploymentID.MatchString(args[0]) {
				return fmt.Errorf("%q is not a deployment id (APP-dN); to go back to an earlier revision of app %q, give --to REVISION (cutover releases %s lists them)", args[0], args[0], args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if to == "" {
				d, err := c.Act(cmd.Context(), args[0], "rollback")
				if err != nil {
					return err
				}
				return printJSONOr(cmd, g, d, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s)\n", d.ID, d.Status, d.Step)
				})
			}
			d, err := c.RollbackTo(cmd.Context(), args[0], to)
			if err != nil {
				return err
			}
			if !wait || g.json {
				return printJSONOr(cmd, g, d, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: deployment %s deploys %s again as %s\n", args[0], d.ID, to, d.ToRevision)
				})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: deployment %s deploys %s again as %s\n", args[0], d.ID, to, d.ToRevision)
			return followDeployment(cmd.Context(), cmd, c, d)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the earlier revision of the app to deploy again: 3, r3 or APP-r3")
	cmd.Flags().BoolVar(&wait, "wait", true, "with --to: follow the deployment until it ends")
	return cmd
}

// retainFlag is cutover up --retain-releases: the value stored is
// deploy.Options.RetainReleases (0 the default, negative all).
type retainFlag int

func (f *retainFlag) String() string {
	switch {
	case *f == 0:
		return strconv.Itoa(deploy.DefaultRetainReleases)
	case *f < 0:
		return "0"
	}
	return strconv.Itoa(int(*f))
}

func (f *retainFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: give how many releases per app to keep, a whole number; 0 keeps all", s)
	}
	if n == 0 {
		n = -1
	}
	*f = retainFlag(n)
	return nil
}

func (f *retainFlag) Type() string { return "int" }
