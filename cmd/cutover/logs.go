package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/applog"
)

// logsFlags are the options of cutover logs.
type logsFlags struct {
	follow     bool
	tail       int
	since      string
	revision   string
	timestamps bool
	task       bool
}

func newLogsCmd(g *globalFlags) *cobra.Command {
	f := &logsFlags{}
	cmd := &cobra.Command{
		Use:   "logs <app|task>",
		Short: "Print an app's output, all its tasks merged in time order, or one task's",
		Long: `Print the output (stdout and stderr) of an app's tasks, merged in the order
it was written, each line after its task and stream:

  hello-r3-1 out | listening on :8080
  hello-r3-2 err | connection refused

The app's running tasks are shown, and those stopped in the last hour (or
since --since). With -f, new lines follow as they come, from tasks started
later too (a deployment's new tasks).

When the name is not an app's, it is a task's (see cutover tasks): its
output as it was written, without prefixes. --task takes the name as a
task's even when an app has it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd, g, f, args[0])
		},
	}
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "keep printing new output")
	cmd.Flags().IntVarP(&f.tail, "tail", "n", -1, "only the last N lines (default: all)")
	cmd.Flags().StringVar(&f.since, "since", "", "only lines written since: a duration (10m, 2h) or a time (2026-12-04T19:00:00Z); app logs only")
	cmd.Flags().StringVar(&f.revision, "revision", "", "only the tasks of this revision (3, r3 or hello-r3); app logs only")
	cmd.Flags().BoolVarP(&f.timestamps, "timestamps", "t", false, "print the time each line was written; app logs only")
	cmd.Flags().BoolVar(&f.task, "task", false, "the name is a task's, even if an app has it")
	return cmd
}

func runLogs(cmd *cobra.Command, g *globalFlags, f *logsFlags, name string) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	if !f.task {
		rc, err := c.AppLogs(cmd.Context(), name, api.AppLogOptions{Since: f.since, Revision: f.revision, Tail: f.tail, Follow: f.follow})
		var apiErr *api.Error
		switch {
		case err == nil:
			return printAppLog(cmd, g, f, rc)
		case !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound:
			return err
		}
		if _, appErr := c.App(cmd.Context(), name); appErr == nil {
			return err // the app is there: its revision is not
		}
	}
	if f.since != "" || f.revision != "" || f.timestamps {
		return fmt.Errorf("no app is called %s; --since, --revision and --timestamps are for an app's logs, not a task's", name)
	}
	rc, err := c.TaskLogs(cmd.Context(), name, f.tail, f.follow)
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound && !f.task {
		return fmt.Errorf("no app or task is called %s (cutover apps and cutover tasks list them)", name)
	}
	if err != nil {
		return err
	}
	return printLog(cmd, g, rc, func(line string) any {
		return struct {
			Task string `json:"task"`
			Line string `json:"line"`
		}{name, line}
	})
}

// printAppLog prints the JSON lines of an app's logs as text, or as they
// are with --json; it closes rc. Stopping a follow with Ctrl-C is not an
// error.
func printAppLog(cmd *cobra.Command, g *globalFlags, f *logsFlags, rc io.ReadCloser) error {
	defer rc.Close()
	out := cmd.OutOrStdout()
	enc := json.NewEncoder(out)
	dec := json.NewDecoder(rc)
	for {
		var l applog.Line
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the app's logs: %w", err)
		}
		if g.json {
			err = enc.Encode(l)
		} else {
			_, err = io.WriteString(out, formatAppLine(l, f.timestamps))
		}
		if err != nil {
			return err
		}
	}
}

// formatAppLine is a line of app logs as cutover logs prints it:
// "<task> out | text", or err for stderr, after the time with -t.
func formatAppLine(l applog.Line, timestamps bool) string {
	stream := "out"
	if l.Stream == "stderr" {
		stream = "err"
	}
	prefix := ""
	if timestamps {
		prefix = "-                        "
		if !l.Time.IsZero() {
			prefix = l.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00") + " "
		}
	}
	return fmt.Sprintf("%s%s %s | %s\n", prefix, l.Task, stream, l.Text)
}
