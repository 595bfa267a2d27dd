// Command cutover is a self-hosted continuous-deployment system: a
// health-checking weighted load balancer, a task runtime and a deployment
// controller in one binary. This file only wires the subcommands; the logic
// lives in internal/.
package main

import (
	"errors"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		os.Exit(1)
	}
}
