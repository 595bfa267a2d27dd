package process

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// taskState is what the driver persists about a task, one JSON file per
// task, so that a later cutover process can find the task again.
type taskState struct {
	ID  string `json:"id"`
	PID int    `json:"pid"`
	// StartTicks is the process start time (field 22 of /proc/<pid>/stat,
	// clock ticks since boot); with PID it identifies the process.
	StartTicks uint64 `json:"start_ticks"`
	// Group is the process group signals go to when it is not PID's: a
	// sandboxed task's app runs in a group of its own under bwrap.
	Group     int              `json:"group,omitempty"`
	Port      int              `json:"port"`
	Spec      runtime.TaskSpec `json:"spec"`
	StartedAt time.Time        `json:"started_at"`
	Exit      *runtime.Exit    `json:"exit,omitempty"`
	// Cgroup is the task's cgroup directory when limits were applied.
	Cgroup string `json:"cgroup,omitempty"`
}

// group is the process group that Stop signals.
func (st taskState) group() int {
	if st.Group > 0 {
		return st.Group
	}
	return st.PID
}

const stateSuffix = ".json"

func statePath(dir, id string) string { return filepath.Join(dir, id+stateSuffix) }

func logPath(dir, id string) string { return filepath.Join(dir, id+".log") }

// writeState writes st to its state file atomically: a reader sees the old
// file or the new one, never a partial one.
func writeState(dir string, st taskState) error {
	// The environment's values may be secrets (sealed in the store), and
	// the driver never needs them after the start: not written.
	st.Spec.Env = nil
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state of task %s: %w", st.ID, err)
	}
	tmp, err := os.CreateTemp(dir, "."+st.ID+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state of task %s: %w", st.ID, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state of task %s: %w", st.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state of task %s: %w", st.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing state of task %s: %w", st.ID, err)
	}
	if err := os.Rename(tmp.Name(), statePath(dir, st.ID)); err != nil {
		return fmt.Errorf("writing state of task %s: %w", st.ID, err)
	}
	return nil
}

// loadStates reads every state file in dir. Files it cannot read are
// reported in errs and skipped.
func loadStates(dir string) (states []taskState, errs []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("reading state dir: %w", err)}
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, stateSuffix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var st taskState
		if err := json.Unmarshal(data, &st); err != nil {
			errs = append(errs, fmt.Errorf("decoding %s: %w", name, err))
			continue
		}
		if st.ID+stateSuffix != name || st.PID <= 0 {
			errs = append(errs, fmt.Errorf("%s: id %q or pid %d does not fit the file", name, st.ID, st.PID))
			continue
		}
		states = append(states, st)
	}
	return states, errs
}
