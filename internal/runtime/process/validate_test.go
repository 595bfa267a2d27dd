package process

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

func TestStartRejectsInvalidSpecs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*runtime.TaskSpec)
		want   string // part of the error naming the field
	}{
		{"missing command", func(s *runtime.TaskSpec) { s.Command = nil }, "Command is empty"},
		{"empty command", func(s *runtime.TaskSpec) { s.Command = []string{""} }, "Command is empty"},
		{"bad env name", func(s *runtime.TaskSpec) { s.Env = map[string]string{"1BAD": "x"} }, `Env name "1BAD"`},
		{"env name with dash", func(s *runtime.TaskSpec) { s.Env = map[string]string{"A-B": "x"} }, `Env name "A-B"`},
		{"missing dir", func(s *runtime.TaskSpec) { s.Dir = filepath.Join(file, "nope") }, "Dir:"},
		{"dir is a file", func(s *runtime.TaskSpec) { s.Dir = file }, "is not a directory"},
		{"empty dir", func(s *runtime.TaskSpec) { s.Dir = "" }, "Dir is empty"},
		{"empty id", func(s *runtime.TaskSpec) { s.ID = "" }, "ID is empty"},
		{"id with slash", func(s *runtime.TaskSpec) { s.ID = "../web" }, `ID "../web"`},
		{"negative stop timeout", func(s *runtime.TaskSpec) { s.StopTimeout = -time.Second }, "StopTimeout"},
		{"negative memory", func(s *runtime.TaskSpec) { s.Resources.MemoryBytes = -1 }, "MemoryBytes"},
	}
	d := newDriver(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := appSpec(t, "web-1")
			tt.change(&spec)
			_, err := d.Start(t.Context(), spec)
			if !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("Start = %v, want ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	if tasks, _ := d.List(t.Context()); len(tasks) != 0 {
		t.Errorf("List = %+v, want nothing started", tasks)
	}
	if entries, _ := os.ReadDir(d.opts.StateDir); len(entries) != 0 {
		t.Errorf("state dir holds %d files, want none", len(entries))
	}
}

func TestStartRejectsDuplicateID(t *testing.T) {
	d := newDriver(t, Options{})
	start(t, d, appSpec(t, "web-1"))
	_, err := d.Start(t.Context(), appSpec(t, "web-1"))
	if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("second Start of web-1 = %v, want ErrInvalidSpec", err)
	}
	if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// An exited task keeps its id until it is removed.
	if _, err := d.Start(t.Context(), appSpec(t, "web-1")); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Errorf("Start of an exited task's id = %v, want ErrInvalidSpec", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no state dir", Options{}},
		{"empty port range", Options{StateDir: t.TempDir(), PortMin: 3000, PortMax: 2000}},
		{"port out of range", Options{StateDir: t.TempDir(), PortMin: 1, PortMax: 70000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d, err := New(tt.opts); err == nil {
				d.Close()
				t.Error("New accepted the options")
			}
		})
	}
}
