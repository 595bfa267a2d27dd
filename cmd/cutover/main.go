// Command cutover is a self-hosted continuous-deployment system: a
// health-checking weighted load balancer, a task runtime and a deployment
// controller in one binary. This file only wires the subcommands; the logic
// lives in internal/.
package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/awscli"
	"github.com/cutover/cutover/internal/runtime/process"
)

func main() {
	// Builds run cutover as their aws command (see package awscli).
	if filepath.Base(os.Args[0]) == "aws" {
		os.Exit(awscli.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	// A process task's output goes through a log writer (package
	// runtime/process), which is this executable too.
	if len(os.Args) == 2 && os.Args[1] == process.LogWriterArg {
		os.Exit(process.LogWriterMain())
	}
	closeInheritedOnExec()
	if err := newRootCmd().Execute(); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		os.Exit(1)
	}
}
