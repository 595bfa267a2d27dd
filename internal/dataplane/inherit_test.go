package dataplane

import (
	"os"
	"testing"
)

func TestInheritedFiles(t *testing.T) {
	tests := []struct {
		env  string
		want map[string]uintptr
	}{
		{"", map[string]uintptr{}},
		// Descriptors no process here has open: the files are closed below.
		{"api=900007", map[string]uintptr{"api": 900007}},
		{"l:127.0.0.1:8080=900003,admin=900004,ready=900005", map[string]uintptr{"l:127.0.0.1:8080": 900003, "admin": 900004, "ready": 900005}},
		{"stdin=0,bad,x=y,neg=-3,ok=900009", map[string]uintptr{"ok": 900009}},
	}
	for _, tt := range tests {
		t.Setenv("CUTOVER_TEST_FDS", tt.env)
		got := InheritedFiles("CUTOVER_TEST_FDS")
		if _, set := os.LookupEnv("CUTOVER_TEST_FDS"); set {
			t.Errorf("%q: the variable is still set", tt.env)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q: got %d files, want %v", tt.env, len(got), tt.want)
		}
		for name, fd := range tt.want {
			if f := got[name]; f == nil || f.Name() != name || f.Fd() != fd {
				t.Errorf("%q: no file %s (fd %d)", tt.env, name, fd)
			}
		}
		for _, f := range got {
			f.Close()
		}
	}
}
