package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var sourceTree = map[string]string{
	"app.js":                  "app",
	"package.json":            "{}",
	"scripts/smoke.sh":        "smoke",
	"scripts/lib/util.sh":     "util",
	"dist/index.html":         "html",
	"dist/js/app.js":          "bundle",
	"dist/js/app.js.map":      "map",
	"dist/css/site.css":       "css",
	"node_modules/x/index.js": "x",
}

func TestArtifacts(t *testing.T) {
	tests := []struct {
		name      string
		artifacts string
		want      []string
	}{
		{"files and a ** glob", "files: [app.js, package.json, 'scripts/**/*']",
			[]string{"app.js", "package.json", "scripts/lib/util.sh", "scripts/smoke.sh"}},
		{"base-directory", "files: ['**/*']\n  base-directory: dist",
			[]string{"css/site.css", "index.html", "js/app.js", "js/app.js.map"}},
		{"exclude-paths", "files: ['**/*']\n  base-directory: dist\n  exclude-paths: ['**/*.map']",
			[]string{"css/site.css", "index.html", "js/app.js"}},
		{"discard-paths", "files: ['scripts/**/*', app.js]\n  discard-paths: yes",
			[]string{"app.js", "smoke.sh", "util.sh"}},
		{"a directory", "files: [scripts]", []string{"scripts/lib/util.sh", "scripts/smoke.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, opts := runBuild(t, "version: 0.2\nphases:\n  build:\n    commands: [ls]\nartifacts:\n  "+tt.artifacts+"\n", sourceTree, Options{})
			if !res.Succeeded {
				t.Fatalf("build failed: %+v", res)
			}
			if !slices.Equal(res.Artifacts, tt.want) {
				t.Errorf("artifacts = %q, want %q", res.Artifacts, tt.want)
			}
			var onDisk []string
			filepath.WalkDir(opts.ArtifactsDir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(opts.ArtifactsDir, p)
					onDisk = append(onDisk, filepath.ToSlash(rel))
				}
				return nil
			})
			if !slices.Equal(onDisk, tt.want) {
				t.Errorf("artifacts directory holds %q, want %q", onDisk, tt.want)
			}
		})
	}
}

func TestArtifactContentAndBuildOutput(t *testing.T) {
	res, _, opts := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && echo built > out/result.txt && chmod 755 out/result.txt
artifacts:
  files: ['out/*']
`, nil, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	p := filepath.Join(opts.ArtifactsDir, "out/result.txt")
	if got := readFile(t, p); got != "built\n" {
		t.Errorf("artifact = %q", got)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("artifact mode = %v, %v; want 0755", fi.Mode(), err)
	}
}

func TestMissingArtifactFailsTheBuild(t *testing.T) {
	res, log, _ := runBuild(t, "version: 0.2\nphases:\n  build:\n    commands: [ls]\nartifacts:\n  files: [app.js, missing.txt]\n", sourceTree, Options{})
	if res.Succeeded || res.Status != StatusFailed {
		t.Fatalf("result = %+v, want FAILED", res)
	}
	last := res.Phases[len(res.Phases)-1]
	if last.Name != PhaseUploadArtifacts || last.Status != StatusFailed {
		t.Errorf("last phase = %+v", last)
	}
	if !strings.Contains(log, `CLIENT_ERROR: no matching artifact paths found for "missing.txt"`) {
		t.Error("the log does not name the missing artifact")
	}
}

func TestArtifactsAfterAFailedBuildPhase(t *testing.T) {
	res, _, _ := runBuild(t, "version: 0.2\nphases:\n  build:\n    commands: ['false']\nartifacts:\n  files: [app.js]\n", sourceTree, Options{})
	if res.Succeeded || !slices.Equal(res.Artifacts, []string{"app.js"}) {
		t.Errorf("result = %+v; want FAILED with the artifacts written", res)
	}
}

func TestNoArtifactsWhenBuildDidNotRun(t *testing.T) {
	res, _, _ := runBuild(t, "version: 0.2\nphases:\n  install:\n    commands: ['false']\nartifacts:\n  files: [app.js]\n", sourceTree, Options{})
	if res.Succeeded || len(res.Artifacts) != 0 || statuses(res)[PhaseUploadArtifacts] != "" {
		t.Errorf("result = %+v; want no UPLOAD_ARTIFACTS", res)
	}
}

func TestDiscardPathsCollision(t *testing.T) {
	res, log, _ := runBuild(t, "version: 0.2\nphases:\n  build:\n    commands: [ls]\nartifacts:\n  files: ['**/app.js']\n  discard-paths: yes\n", sourceTree, Options{})
	if res.Succeeded || !strings.Contains(log, "would both be app.js") {
		t.Errorf("result = %+v; want a collision failure", res)
	}
}

func TestArtifactsDirInsideSourceIsNotCollected(t *testing.T) {
	src := t.TempDir()
	res, _, _ := runBuild(t, "version: 0.2\nphases:\n  build:\n    commands: [ls]\nartifacts:\n  files: ['**/*']\n",
		map[string]string{"a.txt": "a"}, Options{SrcDir: src, ArtifactsDir: filepath.Join(src, ".cutover/artifacts")})
	if !slices.Equal(res.Artifacts, []string{"a.txt"}) {
		t.Errorf("artifacts = %q", res.Artifacts)
	}
}
