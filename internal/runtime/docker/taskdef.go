package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TaskDef is the part of an ECS task definition (taskdef.json) cutover
// understands. Fields it does not support are not dropped silently: each
// one is listed in Warnings, or in its container's Warnings.
type TaskDef struct {
	Family string
	// CPU (units, 1024 = 1 vCPU) and Memory (MiB) are the task-level size,
	// required on Fargate; they limit the container run when it sets none.
	CPU        int64
	Memory     int64
	Containers []ContainerDef
	// Warnings are "path: message" lines about task-level fields cutover
	// ignores, e.g. "taskRoleArn: not supported by cutover; ignored".
	Warnings []string
}

// ContainerDef is one of containerDefinitions.
type ContainerDef struct {
	Name              string
	Image             string
	Command           []string
	EntryPoint        []string
	Environment       []EnvVar
	PortMappings      []PortMapping
	CPU               int64 // units, 1024 = 1 vCPU; 0: no limit
	Memory            int64 // hard limit, MiB; 0: no limit
	MemoryReservation int64 // soft limit, MiB; not enforced by cutover
	HealthCheck       *HealthCheck
	StopTimeout       time.Duration // 0: unset
	Essential         bool          // true when omitted, as in ECS
	// Path locates the container in the document, e.g.
	// "containerDefinitions[1]".
	Path string
	// Warnings are "path: message" lines about this container's fields
	// cutover ignores.
	Warnings []string
}

// EnvVar is one entry of environment.
type EnvVar struct {
	Name  string
	Value string
}

// PortMapping is one entry of portMappings.
type PortMapping struct {
	ContainerPort int
	HostPort      int    // ignored by cutover: it picks a free host port
	Protocol      string // "tcp" (default) or "udp"
}

// HealthCheck is a container healthCheck with ECS defaults filled in.
// Command starts with "CMD" (exec form) or "CMD-SHELL".
type HealthCheck struct {
	Command     []string
	Interval    time.Duration // default 30s, 5-300s
	Timeout     time.Duration // default 5s, 2-60s
	Retries     int           // default 3, 1-10
	StartPeriod time.Duration // default 0, 0-300s
}

// notSupported is the warning for a field cutover ignores.
const notSupported = "not supported by cutover; ignored"

// ParseTaskDef reads an ECS task definition. It fails on malformed JSON
// (saying at which line and column), on values of the wrong type or out
// of ECS's ranges, and when a container lacks a name or an image.
func ParseTaskDef(data []byte) (TaskDef, error) {
	var syntax any
	if err := json.Unmarshal(data, &syntax); err != nil {
		return TaskDef{}, fmt.Errorf("parsing task definition: %w", syntaxError(data, err))
	}
	td, err := parseTaskDef(bytes.TrimSpace(data))
	if err != nil {
		return TaskDef{}, fmt.Errorf("parsing task definition: %w", err)
	}
	return td, nil
}

func parseTaskDef(data json.RawMessage) (TaskDef, error) {
	if kind := jsonKind(data); kind != "an object" {
		return TaskDef{}, fmt.Errorf("want a JSON object, got %s", kind)
	}
	fields, err := objectFields("", data)
	if err != nil {
		return TaskDef{}, err
	}
	var td TaskDef
	var sawContainers, sawWrapper bool
	for _, f := range fields {
		switch f.key {
		case "family":
			td.Family, err = decodeString(f.key, f.value)
		case "cpu":
			td.CPU, err = decodeSize(f.key, f.value, "vCPU", 1024)
		case "memory":
			td.Memory, err = decodeSize(f.key, f.value, "GB", 1024)
		case "containerDefinitions":
			sawContainers = true
			td.Containers, err = parseContainers(f.key, f.value)
		default:
			sawWrapper = sawWrapper || f.key == "taskDefinition"
			td.Warnings = append(td.Warnings, f.key+": "+notSupported)
		}
		if err != nil {
			return TaskDef{}, err
		}
	}
	if len(td.Containers) == 0 {
		msg := "containerDefinitions: at least one container is required"
		if !sawContainers && sawWrapper {
			msg += ` (this looks like describe-task-definition output: use its "taskDefinition" object)`
		}
		return TaskDef{}, errors.New(msg)
	}
	return td, nil
}

// decodeSize reads a task-level cpu or memory: a number, a string holding
// one, or a string such as "0.5 vCPU" or "2 GB" (unit times perUnit).
func decodeSize(path string, raw json.RawMessage, unit string, perUnit float64) (int64, error) {
	const maxSize = 1 << 30
	if jsonKind(raw) != "a string" {
		return decodeInt(path, raw, 0, maxSize)
	}
	s, _ := decodeString(path, raw)
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n <= maxSize {
		return n, nil
	}
	if num, ok := strings.CutSuffix(s, unit); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err == nil && f >= 0 && f*perUnit <= maxSize {
			return int64(f * perUnit), nil
		}
	}
	return 0, fmt.Errorf("%s: %q: want a whole number or \"<n> %s\"", path, s, unit)
}

func parseContainers(path string, raw json.RawMessage) ([]ContainerDef, error) {
	elems, err := arrayElems(path, raw)
	if err != nil {
		return nil, err
	}
	containers := make([]ContainerDef, 0, len(elems))
	for i, e := range elems {
		c, err := parseContainer(index(path, i), e)
		if err != nil {
			return nil, err
		}
		containers = append(containers, c)
	}
	return containers, nil
}

func parseContainer(path string, raw json.RawMessage) (ContainerDef, error) {
	fields, err := objectFields(path, raw)
	if err != nil {
		return ContainerDef{}, err
	}
	c := ContainerDef{Path: path, Essential: true}
	for _, f := range fields {
		p := join(path, f.key)
		switch f.key {
		case "name":
			c.Name, err = decodeString(p, f.value)
		case "image":
			c.Image, err = decodeString(p, f.value)
		case "command":
			c.Command, err = decodeStrings(p, f.value)
		case "entryPoint":
			c.EntryPoint, err = decodeStrings(p, f.value)
		case "environment":
			c.Environment, err = c.parseEnvironment(p, f.value)
		case "portMappings":
			c.PortMappings, err = c.parsePortMappings(p, f.value)
		case "cpu":
			c.CPU, err = decodeInt(p, f.value, 0, 1<<20)
		case "memory":
			c.Memory, err = decodeInt(p, f.value, 0, 1<<32)
		case "memoryReservation":
			c.MemoryReservation, err = decodeInt(p, f.value, 0, 1<<32)
			if c.MemoryReservation > 0 {
				c.warn(p, "soft memory limits are not supported by cutover; ignored (memory is the hard limit)")
			}
		case "healthCheck":
			if !isNull(f.value) {
				c.HealthCheck, err = c.parseHealthCheck(p, f.value)
			}
		case "stopTimeout":
			var secs int64
			secs, err = decodeInt(p, f.value, 0, 86400)
			c.StopTimeout = time.Duration(secs) * time.Second
		case "essential":
			if !isNull(f.value) {
				c.Essential, err = decodeBool(p, f.value)
			}
		default:
			c.warn(p, notSupported)
		}
		if err != nil {
			return ContainerDef{}, err
		}
	}
	switch {
	case c.Name == "":
		return ContainerDef{}, fmt.Errorf("%s.name: required", path)
	case c.Image == "":
		return ContainerDef{}, fmt.Errorf("%s.image: required", path)
	}
	return c, nil
}

func (c *ContainerDef) warn(path, msg string) {
	c.Warnings = append(c.Warnings, path+": "+msg)
}

func (c *ContainerDef) parseEnvironment(path string, raw json.RawMessage) ([]EnvVar, error) {
	elems, err := arrayElems(path, raw)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	env := make([]EnvVar, 0, len(elems))
	for i, e := range elems {
		p := index(path, i)
		fields, err := objectFields(p, e)
		if err != nil {
			return nil, err
		}
		var v EnvVar
		for _, f := range fields {
			switch f.key {
			case "name":
				v.Name, err = decodeString(join(p, f.key), f.value)
			case "value":
				v.Value, err = decodeString(join(p, f.key), f.value)
			default:
				c.warn(join(p, f.key), notSupported)
			}
			if err != nil {
				return nil, err
			}
		}
		if v.Name == "" || strings.ContainsAny(v.Name, "=\x00") {
			return nil, fmt.Errorf("%s.name: %q: want a non-empty name without '='", p, v.Name)
		}
		if seen[v.Name] {
			c.warn(p, fmt.Sprintf("%s is set twice; the later value wins", v.Name))
		}
		seen[v.Name] = true
		env = append(env, v)
	}
	return env, nil
}

func (c *ContainerDef) parsePortMappings(path string, raw json.RawMessage) ([]PortMapping, error) {
	elems, err := arrayElems(path, raw)
	if err != nil {
		return nil, err
	}
	ports := make([]PortMapping, 0, len(elems))
	for i, e := range elems {
		p := index(path, i)
		fields, err := objectFields(p, e)
		if err != nil {
			return nil, err
		}
		pm := PortMapping{Protocol: "tcp"}
		for _, f := range fields {
			fp := join(p, f.key)
			var n int64
			switch f.key {
			case "containerPort":
				n, err = decodeInt(fp, f.value, 1, 65535)
				pm.ContainerPort = int(n)
			case "hostPort":
				n, err = decodeInt(fp, f.value, 0, 65535)
				pm.HostPort = int(n)
				if n != 0 {
					c.warn(fp, fmt.Sprintf("cutover publishes each task on a free host port; %d ignored", n))
				}
			case "protocol":
				pm.Protocol, err = decodeString(fp, f.value)
				if pm.Protocol == "" {
					pm.Protocol = "tcp"
				}
				if err == nil && pm.Protocol != "tcp" && pm.Protocol != "udp" {
					err = fmt.Errorf("%s: %q: want tcp or udp", fp, pm.Protocol)
				}
			default:
				c.warn(fp, notSupported)
			}
			if err != nil {
				return nil, err
			}
		}
		if pm.ContainerPort == 0 {
			return nil, fmt.Errorf("%s.containerPort: required", p)
		}
		ports = append(ports, pm)
	}
	return ports, nil
}

// parseHealthCheck reads a healthCheck, checking ECS's ranges and filling
// in its defaults.
func (c *ContainerDef) parseHealthCheck(path string, raw json.RawMessage) (*HealthCheck, error) {
	fields, err := objectFields(path, raw)
	if err != nil {
		return nil, err
	}
	hc := &HealthCheck{Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3}
	seconds := func(p string, v json.RawMessage, lo, hi int64, dst *time.Duration) error {
		if isNull(v) {
			return nil
		}
		n, err := decodeInt(p, v, lo, hi)
		*dst = time.Duration(n) * time.Second
		return err
	}
	for _, f := range fields {
		p := join(path, f.key)
		switch f.key {
		case "command":
			hc.Command, err = decodeStrings(p, f.value)
		case "interval":
			err = seconds(p, f.value, 5, 300, &hc.Interval)
		case "timeout":
			err = seconds(p, f.value, 2, 60, &hc.Timeout)
		case "startPeriod":
			err = seconds(p, f.value, 0, 300, &hc.StartPeriod)
		case "retries":
			if !isNull(f.value) {
				var n int64
				n, err = decodeInt(p, f.value, 1, 10)
				hc.Retries = int(n)
			}
		default:
			c.warn(p, notSupported)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(hc.Command) < 2 || (hc.Command[0] != "CMD" && hc.Command[0] != "CMD-SHELL") {
		return nil, fmt.Errorf(`%s.command: want ["CMD", args...] or ["CMD-SHELL", "command"], got %q`, path, hc.Command)
	}
	return hc, nil
}
