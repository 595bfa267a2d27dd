// Package release makes immutable release directories for the process
// runtime: a copy of an app's files that running tasks use, so that
// editing or rebuilding the source never changes a running revision.
//
// A release is named by the SHA-256 of its contents (paths, modes and
// bytes), so snapshotting the same files twice yields the same directory
// and costs nothing the second time. A release is written into a temporary
// directory and renamed into place: a crash never leaves a half release
// under its final name.
package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// skipDirs are never copied into a release: version control and
// cutover's own data directory.
var skipDirs = []string{".git", ".cutover"}

// Snapshot copies the tree at src into root/<digest> and returns that
// directory and the digest. Files are made read-only.
func Snapshot(src, root string) (dir, digest string, err error) {
	src, err = filepath.Abs(src)
	if err != nil {
		return "", "", fmt.Errorf("snapshotting release: %w", err)
	}
	if fi, err := os.Stat(src); err != nil {
		return "", "", fmt.Errorf("snapshotting release: %w", err)
	} else if !fi.IsDir() {
		return "", "", fmt.Errorf("snapshotting release %s: %w", src, ErrNotDir)
	}
	digest, err = Digest(src)
	if err != nil {
		return "", "", fmt.Errorf("snapshotting release %s: %w", src, err)
	}
	dir = filepath.Join(root, digest)
	if _, err := os.Stat(dir); err == nil {
		return dir, digest, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", "", fmt.Errorf("creating release root: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+digest+"-")
	if err != nil {
		return "", "", fmt.Errorf("creating release directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	if err := copyTree(src, tmp); err != nil {
		return "", "", fmt.Errorf("copying %s into a release: %w", src, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr == nil {
			return dir, digest, nil // made concurrently with the same content
		}
		return "", "", fmt.Errorf("installing release %s: %w", digest, err)
	}
	return dir, digest, nil
}

// Digest returns the first 16 hex digits of the SHA-256 over the tree's
// relative paths, modes, link targets and file contents.
func Digest(src string) (string, error) {
	h := sha256.New()
	err := walk(src, func(rel string, d fs.DirEntry, path string) error {
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", rel, info.Mode()&(fs.ModeType|0o111))
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			io.WriteString(h, target)
		case info.Mode().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// walk calls fn for every entry under src in lexical order, skipping
// skipDirs, with the path relative to src.
func walk(src string, fn func(rel string, d fs.DirEntry, path string) error) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == src {
			return nil
		}
		if d.IsDir() && slices.Contains(skipDirs, d.Name()) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), d, path)
	})
}

func copyTree(src, dst string) error {
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	return walk(src, func(rel string, d fs.DirEntry, path string) error {
		target := filepath.Join(dst, filepath.FromSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := checkLink(root, src, rel, link); err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode()&0o555|0o444)
		}
		return fmt.Errorf("%s: %s files cannot be part of a release", rel, info.Mode().Type())
	})
}

// checkLink accepts the symlink rel -> link of the release source root
// (at src) when it resolves inside the release: relative, possibly
// through .. and through other links (npm's node_modules/.bin, a venv's
// python3 -> python). os.Root follows it the way the kernel would and
// refuses any step outside. A link whose target does not exist is kept
// when its target's path is inside, as a broken link in the source is.
func checkLink(root *os.Root, src, rel, link string) error {
	where := filepath.Join(src, filepath.Dir(filepath.FromSlash(rel)), link)
	if filepath.IsAbs(link) {
		where = link
	}
	outside := fmt.Errorf("%s: symlink %q resolves to %s, outside the release %s", rel, link, where, src)
	if filepath.IsAbs(link) {
		return outside
	}
	_, err := root.Stat(rel)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist) && !escapes(filepath.Join(filepath.Dir(rel), link)):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return outside
	}
	return fmt.Errorf("%w (%v)", outside, err)
}

// escapes says whether the relative path p leaves its root.
func escapes(p string) bool {
	p = filepath.ToSlash(filepath.Clean(p))
	return p == ".." || strings.HasPrefix(p, "../")
}

func copyFile(src, dst string, mode fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = io.Copy(out, in)
	return err
}

// ErrNotDir is returned when a release source is not a directory.
var ErrNotDir = errors.New("release source is not a directory")
