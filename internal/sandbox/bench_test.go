package sandbox

import (
	"context"
	"os/exec"
	"testing"
)

// BenchmarkStart measures what the sandbox adds to starting a process:
// `true` plain and in the sandbox (bwrap, namespaces, setpriv), which
// every build, hook and process task pays once.
func BenchmarkStart(b *testing.B) {
	s, err := New(context.Background(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, sandboxed := range []bool{false, true} {
		name := "plain"
		if sandboxed {
			name = "sandbox-" + string(s.Mode())
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			for b.Loop() {
				cmd := exec.Command("true")
				if sandboxed {
					if err := s.Wrap(cmd, Spec{Binds: []Bind{{Host: dir}}}); err != nil {
						b.Fatal(err)
					}
				}
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
