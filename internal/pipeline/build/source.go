package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CopySource copies the source in dir to dst (which must not exist) so a
// build can run without dirtying dir. In a git work tree, the copy holds
// what git would commit: tracked files and untracked files that are not
// ignored, as they are on disk, without .git. Elsewhere it holds every
// file. A .cutover directory (cutover build's own output) is never copied.
func CopySource(ctx context.Context, dir, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("copying the source: %s already exists", dst)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("copying the source: %w", err)
	}
	files, err := gitFiles(ctx, dir)
	if err != nil {
		return fmt.Errorf("listing the source files with git: %w", err)
	}
	if files == nil {
		src, to, err := openRoots(dir, dst)
		if err != nil {
			return fmt.Errorf("copying the source: %w", err)
		}
		defer src.Close()
		defer to.Close()
		return copyTree(src, to, ".cutover", func(string) bool { return true })
	}
	for _, rel := range files {
		if rel == ".cutover" || strings.HasPrefix(rel, ".cutover/") {
			continue
		}
		src := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted but not yet committed
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			err = copySymlink(src, target)
		case fi.Mode().IsRegular():
			err = copyFile(src, target, fi.Mode())
		}
		if err != nil {
			return fmt.Errorf("copying %s: %w", rel, err)
		}
	}
	return nil
}

// gitFiles lists the files of dir that git would commit, relative to dir,
// or returns nil when dir is not in a git work tree (or git is missing).
func gitFiles(ctx context.Context, dir string) ([]string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, nil
	}
	inside, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--is-inside-work-tree").Output()
	if err != nil || strings.TrimSpace(string(inside)) != "true" {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, err
	}
	files := []string{}
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files, nil
}

// SourceVersion returns the commit checked out in dir, or "" when dir is
// not in a git work tree. Uncommitted changes are not reflected.
func SourceVersion(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
