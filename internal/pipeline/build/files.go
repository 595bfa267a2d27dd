package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// copyFile copies the regular file src to dst, creating dst's directory
// and replacing dst. The mode's permission bits are kept.
func copyFile(src, dst string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_ = os.Remove(dst) // a symlink or read-only file in the way
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode.Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copySymlink recreates the symlink src at dst with the same target.
func copySymlink(src, dst string) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Symlink(target, dst)
}

// copyTree copies the files of src for which keep(rel) is true into dst,
// merging with what dst holds. Symlinks are copied as symlinks and
// directories are created as needed; other file types are skipped, and
// so is the directory skipDir (relative to src; "" for none).
//
// Both trees are os.Roots: a symlink in either (a checkout's, a build's)
// never makes the copy read or write outside them, which matters because
// cutover copies caches as its own user, into and out of directories a
// build wrote.
func copyTree(src, dst *os.Root, skipDir string, keep func(rel string) bool) error {
	return fs.WalkDir(src.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && rel == "." {
				return nil
			}
			return err
		}
		switch {
		case rel == ".":
			return nil
		case d.IsDir():
			if skipDir != "" && rel == filepath.ToSlash(skipDir) {
				return filepath.SkipDir
			}
			return nil
		case !keep(rel):
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			return rootCopySymlink(src, dst, rel)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := rootCopyFile(src, dst, rel, info.Mode()); err != nil {
				return fmt.Errorf("copying %s: %w", rel, err)
			}
		}
		return nil
	})
}

// rootCopyFile copies the regular file rel of src to rel in dst.
func rootCopyFile(src, dst *os.Root, rel string, mode fs.FileMode) error {
	if err := dst.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	in, err := src.Open(rel)
	if err != nil {
		return err
	}
	defer in.Close()
	_ = dst.Remove(rel) // a symlink or read-only file in the way
	out, err := dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode.Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// rootCopySymlink recreates the symlink rel of src at rel in dst.
func rootCopySymlink(src, dst *os.Root, rel string) error {
	target, err := src.Readlink(rel)
	if err != nil {
		return err
	}
	if err := dst.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	if err := dst.RemoveAll(rel); err != nil {
		return err
	}
	return dst.Symlink(target, rel)
}

// openRoots opens src and dst as os.Roots for copyTree, making dst first.
func openRoots(src, dst string) (*os.Root, *os.Root, error) {
	s, err := os.OpenRoot(src)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		s.Close()
		return nil, nil, err
	}
	d, err := os.OpenRoot(dst)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, d, nil
}
