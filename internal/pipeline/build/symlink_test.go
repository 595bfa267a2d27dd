package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestArtifactSymlinksOutsideAreRefused: a symlink among the artifacts
// that resolves outside the source directory fails the upload with an
// error naming the link and where it resolves, and nothing of its target
// is copied, whether links are kept or followed.
func TestArtifactSymlinksOutsideAreRefused(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "hostname")
	if err := os.WriteFile(secret, []byte("host-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		commands  string // shell, run in the source directory
		artifacts string
		link      string // named in the error
	}{
		{"absolute", "ln -s " + secret + " leak", "files: [leak]", "leak"},
		{"relative through ..", "ln -s ../../../../../../../../../.." + secret + " leak", "files: [leak]", "leak"},
		{"chain", "ln -s " + outside + " hostdir && ln -s hostdir/hostname leak", "files: [leak]", "leak"},
		{"kept, absolute", "ln -s " + secret + " leak", "files: [leak]\n  enable-symlinks: yes", "leak"},
		{"kept, chain", "ln -s " + secret + " one && ln -s one leak", "files: [leak]\n  enable-symlinks: yes", "leak"},
		{"kept, dangling outside", "ln -s " + outside + "/missing leak", "files: [leak]\n  enable-symlinks: yes", "leak"},
		{"among others", "mkdir -p dist && echo ok > dist/a.txt && ln -s " + secret + " dist/leak", "files: ['**/*']\n  base-directory: dist", "leak"},
		{"base-directory", "ln -s " + outside + " dist", "files: ['**/*']\n  base-directory: dist", "dist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := fmt.Sprintf("version: 0.2\nphases:\n  build:\n    commands: [%q]\nartifacts:\n  %s\n", tt.commands, tt.artifacts)
			res, log, opts := runBuild(t, spec, nil, Options{})
			last := res.Phases[len(res.Phases)-1]
			if res.Succeeded || last.Name != PhaseUploadArtifacts || last.Status != StatusFailed {
				t.Fatalf("result = %+v, want UPLOAD_ARTIFACTS FAILED", res)
			}
			if !strings.Contains(last.Message, tt.link+" resolves to "+outside) || !strings.Contains(last.Message, "outside the build's source directory") {
				t.Errorf("the failure %q does not name the link %s and where it resolves", last.Message, tt.link)
			}
			if strings.Contains(log, "host-secret") {
				t.Error("the log shows the target's content")
			}
			filepath.WalkDir(opts.ArtifactsDir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), "host-secret") {
						t.Errorf("artifact %s holds the target's content", p)
					}
				}
				return nil
			})
		})
	}
}

// TestArtifactSymlinksInsideWork: symlinks that resolve inside the
// source directory, as npm's node_modules/.bin links do, are copied as
// their targets or, with enable-symlinks, kept as they are.
func TestArtifactSymlinksInsideWork(t *testing.T) {
	const setup = "mkdir -p node_modules/tool/bin node_modules/.bin lib && " +
		"echo cli > node_modules/tool/bin/cli.js && " +
		"ln -s ../tool/bin/cli.js node_modules/.bin/tool && " +
		"echo real > lib/real.txt && ln -s lib/real.txt b && ln -s b a && " +
		"ln -s \"$PWD/lib/real.txt\" abs"
	t.Run("followed", func(t *testing.T) {
		spec := fmt.Sprintf("version: 0.2\nphases:\n  build:\n    commands: [%q]\nartifacts:\n  files: [node_modules/.bin/tool, a, abs]\n", setup)
		res, _, opts := runBuild(t, spec, nil, Options{})
		if !res.Succeeded {
			t.Fatalf("build failed: %+v", res)
		}
		for name, want := range map[string]string{"node_modules/.bin/tool": "cli\n", "a": "real\n", "abs": "real\n"} {
			p := filepath.Join(opts.ArtifactsDir, name)
			if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("artifact %s: %v, %v; want a regular file", name, fi, err)
				continue
			}
			if got := readFile(t, p); got != want {
				t.Errorf("artifact %s = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("kept", func(t *testing.T) {
		spec := fmt.Sprintf("version: 0.2\nphases:\n  build:\n    commands: [%q]\nartifacts:\n  files: [node_modules/**/*, lib/*, a, b, dangling]\n  enable-symlinks: yes\n",
			setup+" && ln -s made-at-deploy.txt dangling")
		res, _, opts := runBuild(t, spec, nil, Options{})
		if !res.Succeeded {
			t.Fatalf("build failed: %+v", res)
		}
		for name, want := range map[string]string{"node_modules/.bin/tool": "../tool/bin/cli.js", "a": "b", "b": "lib/real.txt", "dangling": "made-at-deploy.txt"} {
			got, err := os.Readlink(filepath.Join(opts.ArtifactsDir, name))
			if err != nil || got != want {
				t.Errorf("artifact %s links to %q (%v), want %q", name, got, err, want)
			}
		}
		if got := readFile(t, filepath.Join(opts.ArtifactsDir, "node_modules/.bin/tool")); got != "cli\n" {
			t.Errorf("node_modules/.bin/tool reads %q in the artifacts", got)
		}
		if got := readFile(t, filepath.Join(opts.ArtifactsDir, "a")); got != "real\n" {
			t.Errorf("a reads %q in the artifacts", got)
		}
	})
}
