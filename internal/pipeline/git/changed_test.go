package git

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestChangedFilesAndCheckoutOfATag(t *testing.T) {
	ctx := context.Background()
	dir := newWorkRepo(t)
	first := gitCmd(t, dir, "rev-parse", "HEAD")
	os.MkdirAll(filepath.Join(dir, "docs", "deep"), 0o755)
	os.WriteFile(filepath.Join(dir, "docs", "deep", "a b.md"), []byte("x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "new\nline.txt"), []byte("x\n"), 0o644)
	gitCmd(t, dir, "add", ".")
	gitCmd(t, dir, "mv", "a.txt", "renamed.txt")
	gitCmd(t, dir, "commit", "-q", "-m", "second")
	second := gitCmd(t, dir, "rev-parse", "HEAD")

	files, err := ChangedFiles(ctx, filepath.Join(dir, ".git"), first, second)
	slices.Sort(files)
	want := []string{"a.txt", "docs/deep/a b.md", "new\nline.txt", "renamed.txt"}
	if err != nil || !slices.Equal(files, want) {
		t.Fatalf("ChangedFiles = %q, %v; want %q (a rename as both paths, names as they are)", files, err, want)
	}
	if _, err := ChangedFiles(ctx, filepath.Join(dir, ".git"), "--output=/tmp/x", second); err == nil {
		t.Fatal("ChangedFiles took an option as a commit")
	}

	// An annotated tag is checked out by its ref, peeled to its commit.
	gitCmd(t, dir, "tag", "-a", "-m", "release", "v1")
	c, err := Checkout(ctx, dir, "refs/tags/v1", "", filepath.Join(t.TempDir(), "co"))
	if err != nil || c.SHA != second {
		t.Fatalf("Checkout(refs/tags/v1) = %+v, %v; want %s", c, err, second)
	}
}
