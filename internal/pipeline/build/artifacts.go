package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/config"
)

// collectArtifacts copies the files of srcDir that the artifacts section
// selects into outDir and returns their paths relative to outDir.
//
// Patterns are relative to base-directory; a pattern that names a
// directory takes everything under it. Every files pattern must match at
// least one file (before exclude-paths is applied), or the upload fails
// as CodeBuild's does. outDir is never collected from, even when it lies
// inside srcDir.
func collectArtifacts(srcDir string, a *config.BuildArtifacts, outDir string) ([]string, error) {
	base := filepath.Join(srcDir, filepath.FromSlash(a.BaseDirectory))
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("CLIENT_ERROR: base-directory %s is not a directory in the source", a.BaseDirectory)
	}
	root, err := filepath.EvalSymlinks(srcDir)
	if err != nil {
		return nil, fmt.Errorf("collecting artifacts: resolving the source directory: %w", err)
	}
	if _, err := checkInside(root, base); err != nil {
		return nil, fmt.Errorf("CLIENT_ERROR: base-directory %s: %w", a.BaseDirectory, err)
	}
	selected, order, err := selectArtifacts(base, a, outDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the artifacts directory: %w", err)
	}
	for _, name := range order {
		src := filepath.Join(base, filepath.FromSlash(selected[name]))
		dst := filepath.Join(outDir, filepath.FromSlash(name))
		if err := copyArtifact(root, src, dst, a.EnableSymlinks); err != nil {
			return nil, fmt.Errorf("copying artifact %s: %w", selected[name], err)
		}
	}
	slices.Sort(order)
	return order, nil
}

// selectArtifacts walks base (skipping outDir) for the files a selects.
// It returns each artifact's source path by its name in the artifacts,
// and the names in walk order. Every pattern of a.Files must match.
func selectArtifacts(base string, a *config.BuildArtifacts, outDir string) (map[string]string, []string, error) {
	hits := make([]int, len(a.Files))
	selected := map[string]string{} // artifact path -> source path
	var order []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == outDir {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		matched := false
		for i, pattern := range a.Files {
			if matchesOrUnder(pattern, rel) {
				hits[i]++
				matched = true
			}
		}
		if !matched || slices.ContainsFunc(a.ExcludePaths, func(x string) bool { return matchesOrUnder(x, rel) }) {
			return nil
		}
		name := rel
		if a.DiscardPaths {
			name = path.Base(rel)
		}
		if prev, dup := selected[name]; dup {
			return fmt.Errorf("CLIENT_ERROR: with discard-paths, %s and %s would both be %s", prev, rel, name)
		}
		selected[name] = rel
		order = append(order, name)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("collecting artifacts: %w", err)
	}
	for i, pattern := range a.Files {
		if hits[i] == 0 {
			return nil, nil, fmt.Errorf("CLIENT_ERROR: no matching artifact paths found for %q", pattern)
		}
	}
	return selected, order, nil
}

// copyArtifact copies one file; a symlink is kept as a symlink with
// enable-symlinks, and otherwise replaced by the file it points to.
// Either way a symlink must resolve inside root, the build's source
// directory: a link to /etc/hostname must not bring the host's file
// into a release.
func copyArtifact(root, src, dst string, keepSymlinks bool) error {
	li, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		dest, err := checkInside(root, src)
		if err != nil {
			return err
		}
		if keepSymlinks {
			return copySymlink(src, dst)
		}
		// Copy what was checked, not what the link may say by now.
		src = dest
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	return copyFile(src, dst, fi.Mode())
}

// checkInside returns where p resolves, symlinks followed, or an error
// naming p and where it resolves when that is outside root (a resolved
// path). A dangling symlink resolves to where it points.
func checkInside(root, p string) (string, error) {
	dest, err := resolve(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, dest)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s resolves to %s, outside the build's source directory %s; refused", p, dest, root)
	}
	return dest, nil
}

// resolve returns p with every symlink followed; for a dangling symlink,
// the path it points to, resolved against its resolved directory.
func resolve(p string) (string, error) {
	dest, err := filepath.EvalSymlinks(p)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return dest, err
	}
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(target) {
		return filepath.Clean(target), nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, target), nil
}
