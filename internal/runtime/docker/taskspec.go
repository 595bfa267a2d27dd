package docker

import (
	"fmt"
	"strings"

	"github.com/cutover/cutover/internal/runtime"
)

// TaskSpec picks the container cutover runs for td and turns it into a
// runtime.TaskSpec. cutover runs one container per task: the essential one
// with a port mapping; the others are not run, with a warning each. Task
// level cpu and memory limit the container when it sets none of its own.
//
// The returned ContainerDef is the one run; its HealthCheck is not part
// of runtime.TaskSpec, so callers read it there. The
// warnings are td's, then those of the container run (see
// ContainerDef.TaskSpec), then one per container not run. The spec's ID,
// App and Revision are left for the caller.
func (td TaskDef) TaskSpec() (runtime.TaskSpec, ContainerDef, []string, error) {
	run := -1
	var candidates []string
	for i, c := range td.Containers {
		if c.Essential && c.tcpPort() >= 0 {
			if run < 0 {
				run = i
			}
			candidates = append(candidates, fmt.Sprintf("%s (%s)", c.Path, c.Name))
		}
	}
	switch {
	case len(candidates) > 1:
		return runtime.TaskSpec{}, ContainerDef{}, nil, fmt.Errorf(
			"task definition %s: %d essential containers with a tcp port mapping (%s); cutover runs one container per task",
			td.Family, len(candidates), strings.Join(candidates, ", "))
	case run < 0:
		return runtime.TaskSpec{}, ContainerDef{}, nil, fmt.Errorf(
			"task definition %s: no essential container with a tcp port mapping; cutover needs the port the app listens on", td.Family)
	}

	c := td.Containers[run]
	spec, cw := c.TaskSpec()
	warnings := append(append([]string(nil), td.Warnings...), cw...)
	for i, other := range td.Containers {
		if i != run {
			warnings = append(warnings, fmt.Sprintf("%s (%s): not run; cutover runs only the essential container with a port mapping, %s (%s)",
				other.Path, other.Name, c.Path, c.Name))
		}
	}
	if c.Memory == 0 && td.Memory > 0 {
		spec.Resources.MemoryBytes = td.Memory << 20
	}
	if c.CPU == 0 && td.CPU > 0 {
		spec.Resources.CPUs = float64(td.CPU) / 1024
	}
	return spec, c, warnings, nil
}

// TaskSpec turns one container definition into a runtime.TaskSpec, with
// a warning for every field present that cutover does not apply: those
// found while parsing (c.Warnings) and each port mapping beyond the first
// tcp one. The health check has no place in runtime.TaskSpec: callers read
// it from c.HealthCheck.
func (c ContainerDef) TaskSpec() (runtime.TaskSpec, []string) {
	warnings := append([]string(nil), c.Warnings...)
	path := c.Path
	if path == "" {
		path = "container " + c.Name
	}
	spec := runtime.TaskSpec{
		Image:       c.Image,
		Entrypoint:  c.EntryPoint,
		Command:     c.Command,
		StopTimeout: c.StopTimeout,
		Resources: runtime.Resources{
			MemoryBytes: c.Memory << 20,
			CPUs:        float64(c.CPU) / 1024,
		},
	}
	if len(c.Environment) > 0 {
		spec.Env = make(map[string]string, len(c.Environment))
		for _, v := range c.Environment {
			spec.Env[v.Name] = v.Value
		}
	}
	port := c.tcpPort()
	if port >= 0 {
		spec.Port = c.PortMappings[port].ContainerPort
	}
	for i, pm := range c.PortMappings {
		if i == port {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%s.portMappings[%d]: cutover publishes one tcp port per task; %d/%s ignored",
			path, i, pm.ContainerPort, pm.Protocol))
	}
	return spec, warnings
}

// tcpPort returns the index of the first tcp port mapping, the one
// cutover publishes, or -1.
func (c ContainerDef) tcpPort() int {
	for i, pm := range c.PortMappings {
		if pm.Protocol == "tcp" {
			return i
		}
	}
	return -1
}
