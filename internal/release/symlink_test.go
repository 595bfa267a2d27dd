package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotSymlinks: a release keeps every symlink that resolves
// inside it (npm's .bin links, a venv's python3 -> python, chains, links
// through ..) and refuses one that resolves outside, naming the link and
// where it goes.
func TestSnapshotSymlinks(t *testing.T) {
	type link struct{ at, to string }
	tests := []struct {
		name    string
		links   []link
		refused string // the link named in the error; "" when accepted
	}{
		{"npm .bin link", []link{{"node_modules/.bin/mime", "../mime/cli.js"}}, ""},
		{"venv python3 -> python", []link{{"venv/bin/python3", "python"}}, ""},
		{"chain of two", []link{{"first", "second"}, {"second", "node_modules/mime/cli.js"}}, ""},
		{"through ..", []link{{"venv/bin/app", "../../node_modules/mime/cli.js"}}, ""},
		{"to a directory", []link{{"lib", "node_modules/mime"}}, ""},
		{"dangling, inside", []link{{"optional", "node_modules/not-installed"}}, ""},
		{"up and out", []link{{"node_modules/.bin/x", "../../../etc/passwd"}}, "node_modules/.bin/x"},
		{"absolute", []link{{"passwd", "/etc/passwd"}}, "passwd"},
		{"dangling, outside", []link{{"gone", "../nowhere"}}, "gone"},
		// d goes to the release's root, so d/.. is above it, though the
		// link's text looks inside.
		{"out through another link", []link{{"p/q/d", "../.."}, {"p/q/e", "d/../x"}}, "p/q/e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			write(t, filepath.Join(src, "node_modules/mime/cli.js"), "#!/usr/bin/env node\n", 0o755)
			write(t, filepath.Join(src, "venv/bin/python"), "python", 0o755)
			for _, l := range tt.links {
				os.MkdirAll(filepath.Join(src, filepath.Dir(l.at)), 0o755)
				if err := os.Symlink(l.to, filepath.Join(src, l.at)); err != nil {
					t.Fatal(err)
				}
			}
			dir, _, err := Snapshot(src, t.TempDir())
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				for _, l := range tt.links {
					if got, err := os.Readlink(filepath.Join(dir, l.at)); err != nil || got != l.to {
						t.Errorf("%s in the release: %q, %v; want -> %q", l.at, got, err, l.to)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("a symlink out of the release was accepted")
			}
			if !strings.Contains(err.Error(), tt.refused+": symlink") || !strings.Contains(err.Error(), "outside the release") {
				t.Errorf("error does not name the link %s: %v", tt.refused, err)
			}
		})
	}
}
