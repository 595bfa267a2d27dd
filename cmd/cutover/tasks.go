package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/store"
)

func newTasksCmd(g *globalFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "tasks [app]",
		Short: "List tasks: revision, task set, state, address",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			tasks, err := c.Tasks(cmd.Context(), app)
			if err != nil {
				return err
			}
			if !all {
				live := tasks[:0]
				for _, t := range tasks {
					if t.State != store.TaskStopped {
						live = append(live, t)
					}
				}
				tasks = live
			}
			return printJSONOr(cmd, g, tasks, func() { printTasks(cmd.OutOrStdout(), tasks) })
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include stopped tasks")
	return cmd
}

func printTasks(w io.Writer, tasks []store.Task) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tAPP\tREVISION\tSET\tSTATE\tADDRESS")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.App, t.Revision, orDash(t.TaskSet), t.State, orDash(t.Address))
	}
	tw.Flush()
}

// printLog copies a log stream to the command's output, as it is or, with
// --json, as the JSON of wrap(line) per line; it closes rc. Stopping a
// follow with Ctrl-C is not an error.
func printLog(cmd *cobra.Command, g *globalFlags, rc io.ReadCloser, wrap func(line string) any) error {
	defer rc.Close()
	var err error
	if g.json {
		err = jsonLines(cmd.OutOrStdout(), rc, wrap)
	} else {
		_, err = io.Copy(cmd.OutOrStdout(), rc)
	}
	if cmd.Context().Err() != nil {
		return nil // interrupted while following
	}
	return err
}

// jsonLines prints, for each line of r, the JSON of wrap(line) on a line
// of its own: `logs --json` and `pipeline logs --json`.
func jsonLines(w io.Writer, r io.Reader, wrap func(line string) any) error {
	enc := json.NewEncoder(w)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := enc.Encode(wrap(sc.Text())); err != nil {
			return err
		}
	}
	return sc.Err()
}
