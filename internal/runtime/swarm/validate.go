package swarm

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/cutover/cutover/internal/runtime"
)

// validID matches what Swarm accepts in a service name: letters and
// digits, with '-' and '_' between them.
var validID = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$`)

// maxIDLen keeps service names within Swarm's 63 characters once
// "cutover-" is added.
const maxIDLen = 63 - len(servicePrefix)

// minMemory is the smallest memory limit the Engine accepts.
const minMemory = 6 << 20

// validate checks spec before anything is created. Errors wrap
// runtime.ErrInvalidSpec and name the field.
func validate(spec runtime.TaskSpec) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", runtime.ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case spec.ID == "":
		return invalid("ID is required")
	case len(spec.ID) > maxIDLen || !validID.MatchString(spec.ID):
		return invalid("ID %q: use up to %d letters and digits, with '-' or '_' between them (a Swarm service name)", spec.ID, maxIDLen)
	case spec.Image == "":
		return invalid("Image is required")
	case spec.OneOff:
		return invalid("one-off tasks (release commands, cutover run) are not supported on Swarm yet")
	case spec.Port <= 0 || spec.Port > math.MaxUint16:
		return invalid("Port %d: want 1-65535, the port the app listens on inside the container", spec.Port)
	case spec.StopTimeout < 0:
		return invalid("StopTimeout %s: must not be negative", spec.StopTimeout)
	case spec.Resources.MemoryBytes < 0 || (spec.Resources.MemoryBytes > 0 && spec.Resources.MemoryBytes < minMemory):
		return invalid("Resources.MemoryBytes %d: want 0 (no limit) or at least %d (6 MiB)", spec.Resources.MemoryBytes, minMemory)
	case spec.Resources.CPUs < 0 || math.IsNaN(spec.Resources.CPUs) || math.IsInf(spec.Resources.CPUs, 0):
		return invalid("Resources.CPUs %v: want 0 (no limit) or a positive number", spec.Resources.CPUs)
	}
	for key, value := range spec.Labels {
		if strings.HasPrefix(key, ConstraintLabel) && !strings.ContainsAny(value, "=!") {
			return invalid("label %s=%q: a constraint needs == or !=, e.g. node.labels.zone==eu", key, value)
		}
	}
	names := make([]string, 0, len(spec.Env))
	for name := range spec.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return invalid("Env name %q: must be non-empty, without '=' or NUL", name)
		}
		if strings.ContainsRune(spec.Env[name], 0) {
			return invalid("Env %s: value contains NUL", name)
		}
	}
	return nil
}

// constraints returns the spec's placement constraints, sorted by label.
func constraints(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if strings.HasPrefix(k, ConstraintLabel) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, labels[k])
	}
	return out
}
