package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

// cgroupPeriod is the cpu.max period, in microseconds.
const cgroupPeriod = 100000

// cgroupV2 creates per-task cgroups under base (<parent>/cutover), whose
// memory and cpu controllers are enabled for its children.
type cgroupV2 struct {
	base string
}

// detectCgroup prepares <parent>/cutover for task cgroups and reports why
// it cannot. parent defaults to cutover's own cgroup in the unified
// (cgroup v2) hierarchy.
func detectCgroup(parent string) (*cgroupV2, error) {
	if parent == "" {
		mountinfo, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return nil, err
		}
		mount, err := cgroup2Mount(mountinfo)
		if err != nil {
			return nil, err
		}
		self, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			return nil, err
		}
		own, err := unifiedCgroup(self)
		if err != nil {
			return nil, err
		}
		parent = filepath.Join(mount, own)
	}
	controllers, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup %s is not a cgroup v2 directory: %w", parent, err)
	}
	if missing := missingControllers(controllers); len(missing) > 0 {
		return nil, fmt.Errorf("cgroup %s lacks the %s controller(s)", parent, strings.Join(missing, ", "))
	}
	if err := enableControllers(parent); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w (it must be writable and hold no processes itself)", parent, err)
	}
	base := filepath.Join(parent, "cutover")
	if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("creating cgroup %s: %w", base, err)
	}
	if err := enableControllers(base); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", base, err)
	}
	return &cgroupV2{base: base}, nil
}

// neededControllers are the controllers resource limits use.
func neededControllers() []string { return []string{"cpu", "memory"} }

func missingControllers(list []byte) []string {
	have := strings.Fields(string(list))
	var missing []string
	for _, c := range neededControllers() {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// enableControllers enables the needed controllers for dir's children.
func enableControllers(dir string) error {
	file := filepath.Join(dir, "cgroup.subtree_control")
	enabled, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	missing := missingControllers(enabled)
	if len(missing) == 0 {
		return nil
	}
	for i, c := range missing {
		missing[i] = "+" + c
	}
	if err := os.WriteFile(file, []byte(strings.Join(missing, " ")), 0); err != nil {
		return fmt.Errorf("enabling controllers: %w", err)
	}
	return nil
}

// cgroup2Mount returns where the unified hierarchy is mounted, from the
// contents of /proc/self/mountinfo.
func cgroup2Mount(mountinfo []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		// 36 25 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, fstype := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(fstype) > 0 && fstype[0] == "cgroup2" {
			return unescapeMountPath(fields[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup v2 (unified) hierarchy is mounted")
}

// unescapeMountPath undoes the octal escapes (\040 for space) of
// mountinfo paths.
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unifiedCgroup returns the process's cgroup in the unified hierarchy,
// from the contents of /proc/self/cgroup (the "0::<path>" line).
func unifiedCgroup(self []byte) (string, error) {
	for line := range strings.Lines(string(self)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return path, nil
		}
	}
	return "", errors.New("process is in no cgroup v2 cgroup")
}

// create makes the task's cgroup with its limits and returns its directory
// and a descriptor to start the task in it.
func (c *cgroupV2) create(id string, r runtime.Resources) (string, int, error) {
	dir := filepath.Join(c.base, id)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", -1, fmt.Errorf("creating cgroup: %w", err)
	}
	if err := writeLimits(dir, r); err != nil {
		os.Remove(dir)
		return "", -1, err
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return "", -1, fmt.Errorf("opening cgroup: %w", err)
	}
	return dir, fd, nil
}

// writeLimits writes memory.max and cpu.max of the cgroup dir.
func writeLimits(dir string, r runtime.Resources) error {
	if r.MemoryBytes > 0 {
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(r.MemoryBytes, 10)), 0); err != nil {
			return fmt.Errorf("setting memory limit: %w", err)
		}
	}
	if r.CPUs > 0 {
		if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(cpuMax(r.CPUs)), 0); err != nil {
			return fmt.Errorf("setting CPU limit: %w", err)
		}
	}
	return nil
}

// cpuMax is the cpu.max line for a limit of cpus cores.
func cpuMax(cpus float64) string {
	quota := max(int64(cpus*cgroupPeriod), 1000) // the kernel's minimum is 1ms
	return fmt.Sprintf("%d %d", quota, cgroupPeriod)
}
