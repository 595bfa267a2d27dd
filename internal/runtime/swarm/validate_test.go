package swarm

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/cutover/cutover/internal/runtime"
)

func TestValidate(t *testing.T) {
	good := runtime.TaskSpec{ID: "hello-r3-1-ab12", Image: "hello:1", Port: 8080}
	tests := []struct {
		name   string
		change func(*runtime.TaskSpec)
		want   string // "" for valid
	}{
		{"valid", func(*runtime.TaskSpec) {}, ""},
		{"underscore", func(s *runtime.TaskSpec) { s.ID = "my_app-r1-1-ab" }, ""},
		{"no id", func(s *runtime.TaskSpec) { s.ID = "" }, "ID is required"},
		{"dot in id", func(s *runtime.TaskSpec) { s.ID = "a.b" }, "Swarm service name"},
		{"trailing dash", func(s *runtime.TaskSpec) { s.ID = "a-" }, "Swarm service name"},
		{"id too long", func(s *runtime.TaskSpec) { s.ID = strings.Repeat("a", 56) }, "Swarm service name"},
		{"no image", func(s *runtime.TaskSpec) { s.Image = "" }, "Image is required"},
		{"no port", func(s *runtime.TaskSpec) { s.Port = 0 }, "Port 0"},
		{"negative stop timeout", func(s *runtime.TaskSpec) { s.StopTimeout = -time.Second }, "StopTimeout"},
		{"tiny memory", func(s *runtime.TaskSpec) { s.Resources.MemoryBytes = 1 << 20 }, "MemoryBytes"},
		{"negative cpus", func(s *runtime.TaskSpec) { s.Resources.CPUs = -1 }, "CPUs"},
		{"bad env", func(s *runtime.TaskSpec) { s.Env = map[string]string{"A=B": "c"} }, "Env name"},
		{"constraint without operator", func(s *runtime.TaskSpec) {
			s.Labels = map[string]string{ConstraintLabel: "node.labels.zone"}
		}, "constraint needs == or !="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			tt.change(&spec)
			err := validate(spec)
			if tt.want == "" {
				if err != nil {
					t.Errorf("validate = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("validate = %v; want ErrInvalidSpec mentioning %q", err, tt.want)
			}
		})
	}
}

func TestConstraints(t *testing.T) {
	got := constraints(map[string]string{
		"team":                     "web",
		ConstraintLabel + ".zone":  "node.labels.zone==eu",
		ConstraintLabel:            "node.role==worker",
		"cutover.constraintless":   "x==y", // same prefix: a constraint too
		"other.cutover.constraint": "ignored",
	})
	want := []string{"node.role==worker", "node.labels.zone==eu", "x==y"}
	if !slices.Equal(got, want) {
		t.Errorf("constraints = %q; want %q", got, want)
	}
}

func TestTaskExit(t *testing.T) {
	ready := &swarm.Node{Status: swarm.NodeStatus{State: swarm.NodeStateReady}}
	down := &swarm.Node{Description: swarm.NodeDescription{Hostname: "w1"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown}}
	task := func(state swarm.TaskState, err string, code int) swarm.Task {
		return swarm.Task{Status: swarm.TaskStatus{State: state, Err: err, ContainerStatus: &swarm.ContainerStatus{ContainerID: "c", ExitCode: code}}}
	}
	tests := []struct {
		name string
		task swarm.Task
		node *swarm.Node
		want string // Exit.Reason prefix; "" for still running
		code int
	}{
		{"running", task(swarm.TaskStateRunning, "", 0), ready, "", 0},
		{"pending", task(swarm.TaskStatePending, "no suitable node", 0), nil, "", 0},
		{"complete", task(swarm.TaskStateComplete, "", 0), ready, "exited with code 0", 0},
		{"crashed", task(swarm.TaskStateFailed, "task: non-zero exit (3)", 3), ready, "exited with code 3", 3},
		{"killed", task(swarm.TaskStateFailed, "task: non-zero exit (137)", 137), ready, "exited with code 137 (SIGKILL)", 137},
		{"failed to start", task(swarm.TaskStateFailed, "starting container failed: boom", 128), ready, "failed: starting container failed: boom", -1},
		{"rejected", task(swarm.TaskStateRejected, "No such image: x", 0), ready, "rejected by Swarm: No such image: x", -1},
		{"orphaned", task(swarm.TaskStateOrphaned, "", 0), down, "node lost", -1},
		{"node down", task(swarm.TaskStateRunning, "", 0), down, "node lost: node w1 is down", -1},
		{"assigned to a node that is down", task(swarm.TaskStateAssigned, "", 0), down, "node lost: node w1 is down", -1},
		{"assigned", task(swarm.TaskStateAssigned, "", 0), ready, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exit := taskExit(tt.task, tt.node)
			if tt.want == "" {
				if exit != nil {
					t.Errorf("taskExit = %+v; want nil (not ended)", exit)
				}
				return
			}
			if exit == nil || !strings.HasPrefix(exit.Reason, tt.want) || exit.Code != tt.code {
				t.Errorf("taskExit = %+v; want reason %q, code %d", exit, tt.want, tt.code)
			}
		})
	}
}
