package docker

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/runtime"
)

func TestValidate(t *testing.T) {
	valid := func() runtime.TaskSpec {
		return runtime.TaskSpec{ID: "hello-3f2a1c-1", Image: "hello:abc123", Port: 8080, Env: map[string]string{"MODE": "prod"}}
	}
	tests := []struct {
		name   string
		change func(*runtime.TaskSpec)
		want   string // "" for valid; else a substring naming the field
	}{
		{"valid", func(*runtime.TaskSpec) {}, ""},
		{"limits", func(s *runtime.TaskSpec) { s.Resources = runtime.Resources{MemoryBytes: 64 << 20, CPUs: 1.5} }, ""},
		{"no ID", func(s *runtime.TaskSpec) { s.ID = "" }, "ID is required"},
		{"ID with a slash", func(s *runtime.TaskSpec) { s.ID = "web/1" }, `ID "web/1"`},
		{"ID starting with a dash", func(s *runtime.TaskSpec) { s.ID = "-web" }, `ID "-web"`},
		{"no image", func(s *runtime.TaskSpec) { s.Image = "" }, "Image is required"},
		{"no port", func(s *runtime.TaskSpec) { s.Port = 0 }, "Port 0"},
		{"port too big", func(s *runtime.TaskSpec) { s.Port = 65536 }, "Port 65536"},
		{"env name with =", func(s *runtime.TaskSpec) { s.Env["A=B"] = "c" }, `Env name "A=B"`},
		{"empty env name", func(s *runtime.TaskSpec) { s.Env[""] = "c" }, `Env name ""`},
		{"env value with NUL", func(s *runtime.TaskSpec) { s.Env["A"] = "x\x00y" }, "Env A"},
		{"negative stop timeout", func(s *runtime.TaskSpec) { s.StopTimeout = -1 }, "StopTimeout"},
		{"negative memory", func(s *runtime.TaskSpec) { s.Resources.MemoryBytes = -1 }, "Resources.MemoryBytes"},
		{"memory below the Engine's minimum", func(s *runtime.TaskSpec) { s.Resources.MemoryBytes = 1 << 20 }, "Resources.MemoryBytes"},
		{"negative CPUs", func(s *runtime.TaskSpec) { s.Resources.CPUs = -0.5 }, "Resources.CPUs"},
		{"NaN CPUs", func(s *runtime.TaskSpec) { s.Resources.CPUs = math.NaN() }, "Resources.CPUs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := valid()
			tt.change(&spec)
			err := validate(spec)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("validate error = %v; want ErrInvalidSpec containing %q", err, tt.want)
			}
		})
	}
}
