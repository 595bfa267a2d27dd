package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCopySourceOfAGitWorkTree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	writeFiles(t, dir, map[string]string{
		".gitignore":       "node_modules/\n",
		"app.js":           "committed",
		"gone.js":          "deleted after commit",
		"node_modules/x":   "ignored",
		".cutover/old":     "cutover's own",
		"new/untracked.js": "not yet added",
	})
	git("add", ".gitignore", "app.js", "gone.js")
	git("commit", "-q", "-m", "first")
	writeFiles(t, dir, map[string]string{"app.js": "edited"})
	if err := os.Remove(filepath.Join(dir, "gone.js")); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "src")
	if err := CopySource(context.Background(), dir, dst); err != nil {
		t.Fatal(err)
	}
	want := []string{".gitignore", "app.js", "new/untracked.js"}
	if got := listFiles(t, dst); !slices.Equal(got, want) {
		t.Errorf("copied %q, want %q", got, want)
	}
	if got := readFile(t, filepath.Join(dst, "app.js")); got != "edited" {
		t.Errorf("app.js = %q, want the file as on disk", got)
	}
	if v := SourceVersion(context.Background(), dir); len(v) != 40 {
		t.Errorf("SourceVersion = %q, want a commit id", v)
	}
}

func TestCopySourceOfAPlainDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "a", "sub/b": "b", ".cutover/artifacts/c": "c"})
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "src")
	if err := CopySource(context.Background(), dir, dst); err != nil {
		t.Fatal(err)
	}
	if got, want := listFiles(t, dst), []string{"a", "link", "sub/b"}; !slices.Equal(got, want) {
		t.Errorf("copied %q, want %q", got, want)
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "a" {
		t.Errorf("link = %q, %v; want a symlink to a", target, err)
	}
	if SourceVersion(context.Background(), dir) != "" {
		t.Error("a plain directory has a source version")
	}
}
