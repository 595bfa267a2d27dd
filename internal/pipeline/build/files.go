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
// directories are created as needed; other file types are skipped.
// skip names a directory (absolute) that is not descended into.
func copyTree(src, dst, skip string, keep func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == src {
				return nil
			}
			return err
		}
		if d.IsDir() && skip != "" && p == skip {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		slashRel := filepath.ToSlash(rel)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return nil
		case !keep(slashRel):
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			return copySymlink(p, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := copyFile(p, target, info.Mode()); err != nil {
				return fmt.Errorf("copying %s: %w", rel, err)
			}
		}
		return nil
	})
}
