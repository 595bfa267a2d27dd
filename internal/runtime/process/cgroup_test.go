package process

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

func TestCgroup2Mount(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		want      string // "" when none is found
	}{
		{
			name: "unified",
			mountinfo: "22 1 0:21 / /proc rw - proc proc rw\n" +
				"30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n",
			want: "/sys/fs/cgroup",
		},
		{
			name: "hybrid with unified under systemd",
			mountinfo: "31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
				"32 30 0:28 / /sys/fs/cgroup/unified rw shared:5 - cgroup2 cgroup2 rw\n",
			want: "/sys/fs/cgroup/unified",
		},
		{
			name:      "escaped path",
			mountinfo: "32 30 0:28 / /mnt/my\\040cgroups rw - cgroup2 none rw\n",
			want:      "/mnt/my cgroups",
		},
		{
			name: "v1 only",
			mountinfo: "31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
				"33 30 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cgroup2Mount([]byte(tt.mountinfo))
			if tt.want == "" {
				if err == nil {
					t.Errorf("cgroup2Mount = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("cgroup2Mount = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestUnifiedCgroup(t *testing.T) {
	got, err := unifiedCgroup([]byte("4:memory:/x\n0::/system.slice/cutover.service\n"))
	if err != nil || got != "/system.slice/cutover.service" {
		t.Errorf("unifiedCgroup = %q, %v", got, err)
	}
	if _, err := unifiedCgroup([]byte("4:memory:/x\n1:cpu:/\n")); err == nil {
		t.Error("unifiedCgroup found a v2 cgroup in a v1-only list")
	}
}

func TestDetectCgroupRejectsDirsWithoutControllers(t *testing.T) {
	tests := []struct {
		name        string
		controllers string // contents of cgroup.controllers; "-" for no file
		want        string
	}{
		{"not a cgroup", "-", "not a cgroup v2 directory"},
		{"no memory controller", "cpuset cpu io pids", "lacks the memory controller"},
		{"neither", "io pids", "lacks the cpu, memory controller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.controllers != "-" {
				os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(tt.controllers+"\n"), 0o600)
			}
			_, err := detectCgroup(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("detectCgroup = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestCPUMax(t *testing.T) {
	tests := []struct {
		cpus float64
		want string
	}{
		{0.5, "50000 100000"},
		{2, "200000 100000"},
		{0.001, "1000 100000"},
	}
	for _, tt := range tests {
		if got := cpuMax(tt.cpus); got != tt.want {
			t.Errorf("cpuMax(%g) = %q, want %q", tt.cpus, got, tt.want)
		}
	}
}

// TestResourceLimits checks that limits are enforced where cgroup v2 is
// usable, and that a task starts without them where it is not.
func TestResourceLimits(t *testing.T) {
	var logs lockedBuffer
	d := newDriver(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	spec := appSpec(t, "limited-1")
	spec.Resources = runtime.Resources{MemoryBytes: 64 << 20, CPUs: 0.5}
	task := start(t, d, spec)
	defer d.Stop(t.Context(), "limited-1", 5*time.Second)
	if _, err := get(t.Context(), task.Address, "/"); err != nil {
		t.Fatalf("task with limits does not serve: %v", err)
	}
	if d.cg == nil {
		if !strings.Contains(logs.String(), "resource limits not applied") {
			t.Errorf("no warning that limits were not applied; driver log:\n%s", logs.String())
		}
		t.Skipf("cgroup v2 limits unavailable on this host (%v); checked only that the task runs without them", d.cgErr)
	}
	dir := filepath.Join(d.cg.base, "limited-1")
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || !strings.Contains(string(procs), strconv.Itoa(task.PID)) {
		t.Errorf("cgroup.procs of %s = %q, %v; want pid %d", dir, procs, err, task.PID)
	}
	for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000"} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
	if _, err := d.Stop(t.Context(), "limited-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(t.Context(), "limited-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("task cgroup %s still exists after Remove", dir)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use, for logs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
