package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/cutover/cutover/internal/sandbox"
)

// sandboxHome is the build's home in a sandbox, as in CodeBuild's images.
const sandboxHome = "/root"

// prepareSandbox says how the build is confined and, in a sandbox, makes
// its scratch directory: its home, its /tmp and its absolute cache paths
// (abs), next to the source directory, removed after the build.
func (b *builder) prepareSandbox() error {
	b.view = view{srcDir: b.opts.SrcDir, home: b.home(os.Getenv("HOME"))}
	sb := b.opts.Sandbox
	if w := sb.Warning(); w != "" {
		b.log.printf("%s", w)
	}
	if sb.Mode() == sandbox.ModeOff {
		return nil
	}
	scratch, err := os.MkdirTemp(filepath.Dir(b.opts.SrcDir), ".sandbox-")
	if err != nil {
		return fmt.Errorf("making the build's sandbox directory: %w", err)
	}
	for _, d := range []string{"home", "tmp", "abs", "exports", "exports/x"} {
		if err := os.Mkdir(filepath.Join(scratch, d), 0o700); err != nil {
			os.RemoveAll(scratch)
			return fmt.Errorf("making the build's sandbox directory: %w", err)
		}
	}
	b.view.scratch, b.view.home = scratch, b.home(sandboxHome)
	return nil
}

// home is the build's home: the buildspec's or the override's HOME, else
// def.
func (b *builder) home(def string) string {
	if h, ok := b.opts.Env["HOME"]; ok {
		return h
	}
	if h, ok := b.spec.Env.Variables["HOME"]; ok {
		return h
	}
	return def
}

// giveToSandbox gives the source directory and the scratch directory,
// with the restored caches in them, to the sandbox's user.
func (b *builder) giveToSandbox() error {
	if b.view.scratch == "" {
		return nil
	}
	// The scratch directory itself stays cutover's: the build sees only
	// these directories in it, and cannot swap them for links.
	owned := []string{b.opts.SrcDir}
	for _, d := range []string{"home", "tmp", "abs", "exports/x"} {
		owned = append(owned, filepath.Join(b.view.scratch, d))
	}
	for _, dir := range owned {
		if err := b.opts.Sandbox.Own(dir); err != nil {
			return err
		}
	}
	for _, bind := range b.binds {
		if err := b.opts.Sandbox.MkdirOwned(bind.Host); err != nil {
			return fmt.Errorf("making the cache directory %s: %w", bind.Path, err)
		}
	}
	return nil
}

func (b *builder) removeScratch() {
	if b.dockerDir != "" {
		os.RemoveAll(b.dockerDir)
	}
	if b.view.scratch != "" {
		if err := os.RemoveAll(b.view.scratch); err != nil {
			b.log.printf("Warning: removing the build's sandbox directory: %v", err)
		}
	}
}

// wrap makes the build's shell run in the sandbox, which binds the source
// directory, the build's home and /tmp, and its absolute cache paths.
func (b *builder) wrap(cmd *exec.Cmd) error {
	if b.view.scratch == "" {
		return nil
	}
	binds := []sandbox.Bind{
		{Host: b.opts.SrcDir, Writable: true},
		{Host: filepath.Join(b.view.scratch, "tmp"), Path: "/tmp", Writable: true},
	}
	if _, inSrc := under(b.opts.SrcDir, b.view.home); !inSrc {
		binds = append(binds, sandbox.Bind{Host: filepath.Join(b.view.scratch, "home"), Path: b.view.home, Writable: true})
	}
	binds = append(binds, sandbox.Bind{Host: filepath.Join(b.view.scratch, "exports/x"), Path: exportsPath, Writable: true})
	binds = append(binds, b.binds...)
	binds = append(binds, b.awsBind()...)
	if b.docker != "" {
		binds = append(binds, sandbox.Bind{Host: b.docker, Path: "/run/docker.sock", Writable: true})
	}
	return b.opts.Sandbox.Wrap(cmd, sandbox.Spec{Binds: binds, Dir: b.opts.SrcDir})
}

// serveDocker gives a sandboxed build the Docker Engine through the
// filter, when Options.Docker asks for it, until ctx ends.
func (b *builder) serveDocker(ctx context.Context) error {
	if b.opts.Docker == "" {
		return nil
	}
	if b.view.scratch == "" {
		b.log.printf("Warning: Docker: the build is not sandboxed, so no filter stands between it and the Docker Engine")
		return nil
	}
	// Its own short directory: a unix socket's path has at most 107
	// bytes, which a workspace deep in the data directory can exceed.
	dir, err := os.MkdirTemp("", "cutover-docker-")
	if err != nil {
		return fmt.Errorf("making the build's Docker filter directory: %w", err)
	}
	b.dockerDir = dir
	sock := filepath.Join(dir, "docker.sock")
	if err := b.opts.Sandbox.ServeDocker(ctx, sock, sandbox.NewDockerFilter(b.opts.Docker)); err != nil {
		return err
	}
	b.docker = sock
	b.log.printf("Docker: the build reaches the Docker Engine at /var/run/docker.sock through cutover's filter: it may build, tag, pull and push images, nothing else")
	return nil
}

// exportsPath is where a sandboxed build's shell writes its exported
// variables: scratch/exports/x, which the build owns, in scratch/exports,
// which it cannot see or change, so the directory cutover reads them from
// cannot be swapped for a link to somewhere else while the build runs.
const exportsPath = "/run/cutover-exports"

// exportsDir is the directory the build's shell writes its exported
// variables into, as cutover sees it and as the build does; cutover
// removes it after reading.
func (b *builder) exportsDir() (host, inBuild string, err error) {
	if b.view.scratch == "" {
		host, err = os.MkdirTemp("", "cutover-exports-")
		return host, host, err
	}
	return filepath.Join(b.view.scratch, "exports/x"), exportsPath, nil
}

// maxExported bounds what cutover reads of one exported variable.
const maxExported = 1 << 20

// readRegular reads the regular file name in root: the build wrote the
// directory, so a symlink or anything else is refused.
func readRegular(root *os.Root, name string) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(io.LimitReader(f, maxExported))
}
