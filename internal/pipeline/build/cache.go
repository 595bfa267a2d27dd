package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cachePath is one entry of cache.paths: the directory it caches (root),
// the glob under root that selects files ("" for all of them), and the
// directory of the cache that holds them (stored).
type cachePath struct {
	spec   string
	root   string
	glob   string
	stored string
}

// resolveCachePath resolves p: "~/" is the build's home, a relative path
// is under srcDir. Absolute paths are stored under <cache>/abs/, relative
// ones under <cache>/src/, so the two never collide.
func resolveCachePath(p, srcDir, home string) cachePath {
	spec := p
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = home + p[1:]
	}
	root, glob := splitGlob(p)
	if glob == "**" || glob == "**/*" {
		glob = ""
	}
	c := cachePath{spec: spec, glob: glob}
	if filepath.IsAbs(root) {
		c.root = filepath.Clean(root)
		c.stored = filepath.Join("abs", c.root)
	} else {
		c.root = filepath.Join(srcDir, root)
		c.stored = filepath.Join("src", root)
	}
	return c
}

func (c cachePath) keep(rel string) bool { return c.glob == "" || match(c.glob, rel) }

// restoreCache copies each cached path back to where it belongs. Failures
// are logged and do not fail the build, as in CodeBuild.
func restoreCache(cacheDir string, paths []cachePath, log *logger) {
	for _, c := range paths {
		stored := filepath.Join(cacheDir, c.stored)
		if _, err := os.Stat(stored); errors.Is(err, fs.ErrNotExist) {
			log.printf("Cache %s: nothing cached yet", c.spec)
			continue
		}
		n := 0
		err := copyTree(stored, c.root, "", func(string) bool { n++; return true })
		if err != nil {
			log.printf("Warning: restoring cache %s to %s: %v", c.spec, c.root, err)
			continue
		}
		log.printf("Cache %s: restored %d files to %s", c.spec, n, c.root)
	}
}

// saveCache replaces the cached copy of each path with its current
// content. A path that does not exist keeps its earlier copy.
func saveCache(cacheDir string, paths []cachePath, log *logger) {
	for _, c := range paths {
		if err := save(cacheDir, c); err != nil {
			log.printf("Warning: saving cache %s: %v", c.spec, err)
		}
	}
}

func save(cacheDir string, c cachePath) error {
	if fi, err := os.Stat(c.root); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory; not saved", c.root)
	}
	stored := filepath.Join(cacheDir, c.stored)
	tmp := stored + ".saving"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := copyTree(c.root, tmp, cacheDir, c.keep); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(stored); err != nil {
		return err
	}
	return os.Rename(tmp, stored)
}
