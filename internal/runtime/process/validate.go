package process

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/runtime"
)

var (
	// taskIDPattern keeps ids usable as file names in StateDir.
	taskIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// validateSpec reports every field of spec the process driver cannot run,
// wrapped in runtime.ErrInvalidSpec.
func validateSpec(spec runtime.TaskSpec) error {
	var problems []string
	switch {
	case spec.ID == "":
		problems = append(problems, "ID is empty")
	case !taskIDPattern.MatchString(spec.ID):
		problems = append(problems, fmt.Sprintf("ID %q must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", spec.ID))
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		problems = append(problems, "Command is empty")
	}
	if spec.Dir == "" {
		problems = append(problems, "Dir is empty")
	} else if fi, err := os.Stat(spec.Dir); err != nil {
		problems = append(problems, fmt.Sprintf("Dir: %v", err))
	} else if !fi.IsDir() {
		problems = append(problems, fmt.Sprintf("Dir %s is not a directory", spec.Dir))
	}
	var badEnv []string
	for name := range spec.Env {
		if !envNamePattern.MatchString(name) {
			badEnv = append(badEnv, fmt.Sprintf("Env name %q must match [A-Za-z_][A-Za-z0-9_]*", name))
		}
	}
	slices.Sort(badEnv)
	problems = append(problems, badEnv...)
	if spec.StopTimeout < 0 {
		problems = append(problems, fmt.Sprintf("StopTimeout %s is negative", spec.StopTimeout))
	}
	if spec.Resources.MemoryBytes < 0 {
		problems = append(problems, fmt.Sprintf("Resources.MemoryBytes %d is negative", spec.Resources.MemoryBytes))
	}
	if spec.Resources.CPUs < 0 {
		problems = append(problems, fmt.Sprintf("Resources.CPUs %g is negative", spec.Resources.CPUs))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", runtime.ErrInvalidSpec, strings.Join(problems, "; "))
	}
	return nil
}
