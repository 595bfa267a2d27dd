// Command exiter is a task for the process driver's tests: it prints
// "line 1" to "line <n>" (with -stderr, each followed by "err <i>" on
// stderr), waits, and exits with the given code.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	lines := flag.Int("lines", 0, "lines to print")
	after := flag.Duration("after", 0, "how long to wait before exiting")
	code := flag.Int("code", 0, "exit code")
	stderr := flag.Bool("stderr", false, "also print err <i> to stderr")
	flag.Parse()

	for i := 1; i <= *lines; i++ {
		fmt.Printf("line %d\n", i)
		if *stderr {
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
	}
	time.Sleep(*after)
	os.Exit(*code)
}
