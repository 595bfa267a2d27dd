package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cutover/cutover/internal/sandbox"
)

// cachePath is one entry of cache.paths: where its files live on the
// host (rel under base, never outside base), the glob under it that
// selects files ("" for all of them), and the directory of the cache that
// holds them (stored). A path that is not cached has skip set to why.
type cachePath struct {
	spec   string
	glob   string
	stored string
	base   string
	rel    string
	skip   string
	bind   *sandbox.Bind // the directory to bind into the build's sandbox
}

// view maps directories as the build sees them to where they are on the
// host: the source directory is the same in both; in a sandbox the home
// directory, /tmp and other absolute paths are the build's own
// directories under its scratch directory.
type view struct {
	srcDir  string
	home    string // the build's home, as the build sees it
	scratch string // "" when the build is not sandboxed
}

// resolveCachePath resolves p: "~/" is the build's home, a relative path
// is under the source directory. Absolute paths are stored under
// <cache>/abs/, relative ones under <cache>/src/, so the two never collide.
func (v view) resolveCachePath(p string) cachePath {
	spec := p
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = v.home + p[1:]
	}
	root, glob := splitGlob(p)
	if glob == "**" || glob == "**/*" {
		glob = ""
	}
	c := cachePath{spec: spec, glob: glob}
	if !filepath.IsAbs(root) {
		c.stored = filepath.Join("src", root)
		root = filepath.Join(v.srcDir, root)
	} else {
		root = filepath.Clean(root)
		c.stored = filepath.Join("abs", root)
	}
	c.base, c.rel, c.bind, c.skip = v.host(root)
	return c
}

// host says where the directory root, as the build sees it, is on the host.
func (v view) host(root string) (base, rel string, bind *sandbox.Bind, skip string) {
	if r, ok := under(v.srcDir, root); ok {
		return v.srcDir, r, nil, ""
	}
	if v.scratch == "" {
		if r, ok := under(v.home, root); ok {
			return v.home, r, nil, ""
		}
		return "", "", nil, "an absolute path outside the source and home directories is cached only when builds run in a sandbox"
	}
	for _, m := range []struct{ path, host string }{{v.home, "home"}, {"/tmp", "tmp"}} {
		if r, ok := under(m.path, root); ok {
			return filepath.Join(v.scratch, m.host), r, nil, ""
		}
	}
	if !sandbox.Bindable(root) {
		return "", "", nil, "it is in the sandbox's read-only system directories"
	}
	base = filepath.Join(v.scratch, "abs")
	rel = strings.TrimPrefix(root, "/")
	return base, rel, &sandbox.Bind{Host: filepath.Join(base, rel), Path: root, Writable: true}, ""
}

// under returns p relative to dir when p is dir or inside it.
func under(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

func (c cachePath) keep(rel string) bool { return c.glob == "" || match(c.glob, rel) }

// restoreCache copies each cached path back to where it belongs. Failures
// are logged and do not fail the build, as in CodeBuild.
func restoreCache(cacheDir string, paths []cachePath, log *logger) {
	for _, c := range paths {
		if c.skip != "" {
			log.printf("Warning: cache %s is not cached: %s", c.spec, c.skip)
			continue
		}
		stored := filepath.Join(cacheDir, c.stored)
		if _, err := os.Stat(stored); errors.Is(err, fs.ErrNotExist) {
			log.printf("Cache %s: nothing cached yet", c.spec)
			continue
		}
		n, err := restore(stored, c)
		if err != nil {
			log.printf("Warning: restoring cache %s: %v", c.spec, err)
			continue
		}
		log.printf("Cache %s: restored %d files", c.spec, n)
	}
}

func restore(stored string, c cachePath) (int, error) {
	src, base, err := openRoots(stored, c.base)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	defer base.Close()
	if err := base.MkdirAll(c.rel, 0o755); err != nil {
		return 0, err
	}
	dst, err := base.OpenRoot(c.rel)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	n := 0
	err = copyTree(src, dst, "", func(string) bool { n++; return true })
	return n, err
}

// saveCache replaces the cached copy of each path with its current
// content. A path that does not exist keeps its earlier copy.
func saveCache(cacheDir string, paths []cachePath, log *logger) {
	for _, c := range paths {
		if c.skip != "" {
			continue
		}
		if err := save(cacheDir, c); err != nil {
			log.printf("Warning: saving cache %s: %v", c.spec, err)
		}
	}
}

func save(cacheDir string, c cachePath) error {
	base, err := os.OpenRoot(c.base)
	if err != nil {
		return err
	}
	defer base.Close()
	src, err := base.OpenRoot(c.rel)
	if err != nil {
		return fmt.Errorf("%s is not a directory inside %s; not saved", c.rel, c.base)
	}
	defer src.Close()
	stored := filepath.Join(cacheDir, c.stored)
	tmp := stored + ".saving"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	dst, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer dst.Close()
	skip, _ := under(filepath.Join(c.base, c.rel), cacheDir)
	if err := copyTree(src, dst, skip, c.keep); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(stored); err != nil {
		return err
	}
	return os.Rename(tmp, stored)
}
