package build

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

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
		return nil, fmt.Errorf("collecting artifacts: %w", err)
	}
	for i, pattern := range a.Files {
		if hits[i] == 0 {
			return nil, fmt.Errorf("CLIENT_ERROR: no matching artifact paths found for %q", pattern)
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the artifacts directory: %w", err)
	}
	for _, name := range order {
		src := filepath.Join(base, filepath.FromSlash(selected[name]))
		dst := filepath.Join(outDir, filepath.FromSlash(name))
		if err := copyArtifact(src, dst, a.EnableSymlinks); err != nil {
			return nil, fmt.Errorf("copying artifact %s: %w", selected[name], err)
		}
	}
	slices.Sort(order)
	return order, nil
}

// copyArtifact copies one file; a symlink is kept as a symlink with
// enable-symlinks, and otherwise replaced by the file it points to.
func copyArtifact(src, dst string, keepSymlinks bool) error {
	li, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if li.Mode()&fs.ModeSymlink != 0 && keepSymlinks {
		return copySymlink(src, dst)
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
