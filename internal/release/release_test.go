package release

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshot(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "app.js"), "console.log(1)", 0o644)
	write(t, filepath.Join(src, "bin", "run"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(src, ".git", "HEAD"), "ref", 0o644)
	write(t, filepath.Join(src, ".cutover", "cutover.db"), "db", 0o644)
	if err := os.Symlink("app.js", filepath.Join(src, "main.js")); err != nil {
		t.Fatal(err)
	}

	dir, digest, err := Snapshot(src, root)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if filepath.Base(dir) != digest || len(digest) != 16 {
		t.Errorf("dir %q, digest %q", dir, digest)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "app.js")); err != nil || string(b) != "console.log(1)" {
		t.Errorf("app.js in release: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin", "run")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("bin/run lost its exec bit: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "app.js")); err != nil || fi.Mode()&0o222 != 0 {
		t.Errorf("app.js in a release is writable: %v", fi.Mode())
	}
	if target, err := os.Readlink(filepath.Join(dir, "main.js")); err != nil || target != "app.js" {
		t.Errorf("symlink: %q %v", target, err)
	}
	for _, skipped := range []string{".git", ".cutover"} {
		if _, err := os.Stat(filepath.Join(dir, skipped)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was copied into the release", skipped)
		}
	}

	again, digest2, err := Snapshot(src, root)
	if err != nil || again != dir || digest2 != digest {
		t.Errorf("second snapshot of the same files: %q %q %v; want %q", again, digest2, err, dir)
	}

	write(t, filepath.Join(src, "app.js"), "console.log(2)", 0o644)
	changed, digest3, err := Snapshot(src, root)
	if err != nil || digest3 == digest || changed == dir {
		t.Errorf("changed source kept digest %q (%v)", digest3, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app.js")); string(b) != "console.log(1)" {
		t.Error("the first release changed when the source changed")
	}

	os.Chmod(filepath.Join(src, "app.js"), 0o755)
	if _, d4, _ := Snapshot(src, root); d4 == digest3 {
		t.Error("an exec-bit change kept the digest")
	}
}

func TestSnapshotErrors(t *testing.T) {
	root := t.TempDir()
	if _, _, err := Snapshot(filepath.Join(root, "nope"), root); err == nil {
		t.Error("missing source accepted")
	}
	file := filepath.Join(t.TempDir(), "f")
	write(t, file, "x", 0o644)
	if _, _, err := Snapshot(file, root); !errors.Is(err, ErrNotDir) {
		t.Errorf("file as source: %v", err)
	}
	src := t.TempDir()
	os.Symlink("/etc/passwd", filepath.Join(src, "escape"))
	if _, _, err := Snapshot(src, root); err == nil {
		t.Error("a symlink out of the release was accepted")
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		t.Errorf("left behind in the release root: %s", e.Name())
	}
}
