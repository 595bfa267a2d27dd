package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/api"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	var detach, noStdin bool
	cmd := &cobra.Command{
		Use:   "run <app> [--detach] -- <command> [args...]",
		Short: "Run a one-off command with an app's current revision and environment",
		Long: `Run a command as a one-off task of the app's current revision (heroku run,
ECS RunTask): in its release directory or image, with its environment, on
its runtime and sandboxed like its tasks, but with no traffic. Its output
(stdout and stderr) is printed as it comes, and cutover exits with the
command's exit code (128+n when a signal n ended it).

Standard input is sent to the command when it is a terminal, a pipe or a
file (process runtime only; --no-stdin leaves it out). The command gets no
terminal of its own. Interrupting cutover stops the command.

With --detach the command runs in the background: cutover prints its task
id, ` + "`cutover tasks`" + ` lists it (task set one-off) and ` + "`cutover logs <task>`" + ` prints
its output, kept for an hour after it exits.`,
		Example: `  cutover run hello -- node migrate.js
  cutover run hello -- sh -c 'echo $DATABASE_URL'
  cutover run hello --detach -- node reindex.js`,
		Args: runArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			app, command := args[0], args[cmd.ArgsLenAtDash():]
			c, err := g.client()
			if err != nil {
				return err
			}
			if detach {
				t, err := c.RunDetached(cmd.Context(), app, command)
				if err != nil {
					return err
				}
				return printJSONOr(cmd, g, t, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: running in the background; `cutover logs %s -f` follows its output\n", t.ID, t.ID)
				})
			}
			var stdin io.Reader
			if !noStdin && hasInput(os.Stdin) {
				stdin = cmd.InOrStdin()
			}
			res, err := c.Run(cmd.Context(), app, command, stdin, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			return quietExit(cmd, runExit(cmd, res))
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background; follow it with cutover logs")
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not send standard input to the command")
	return cmd
}

// runArgs wants the app, then -- and the command.
func runArgs(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	switch {
	case len(args) == 0 || dash == 0:
		return errors.New("give the app and, after --, the command: cutover run <app> -- <command> [args...]")
	case dash < 0 && len(args) == 1, dash == len(args):
		return fmt.Errorf("no command to run; give it after --, e.g. cutover run %s -- node migrate.js", args[0])
	case dash != 1:
		return fmt.Errorf("give the command after --, e.g. cutover run %s -- %s", args[0], args[len(args)-1])
	}
	return nil
}

// hasInput reports whether f is a terminal, a pipe or a file: input to
// send, unlike /dev/null or a closed descriptor.
func hasInput(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	switch {
	case fi.Mode()&os.ModeNamedPipe != 0, fi.Mode().IsRegular():
		return true
	case fi.Mode()&os.ModeCharDevice != 0:
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		return err == nil
	}
	return false
}

// runExit is cutover's exit for a one-off task's: its code, or 128+n for
// a task a signal n ended.
func runExit(cmd *cobra.Command, res api.RunResult) error {
	switch {
	case res.ExitCode == 0:
		return nil
	case res.ExitCode > 0:
		return exitError{res.ExitCode}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "cutover run: task %s %s\n", res.Task, res.Reason)
	if n := unix.SignalNum(res.Signal); n > 0 {
		return exitError{128 + int(n)}
	}
	return exitError{1}
}
