package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheIsRestoredOnTheNextBuild(t *testing.T) {
	cacheDir := t.TempDir()
	home := t.TempDir()
	const spec = `version: 0.2
phases:
  build:
    commands:
      - mkdir -p node_modules/dep ~/.tool && echo "$MARK" > node_modules/dep/index.js && echo "$MARK" > ~/.tool/cached
      - ln -sf dep node_modules/link
      - mkdir -p tmp && echo scratch > tmp/not-cached
cache:
  paths:
    - node_modules/**/*
    - ~/.tool
`
	first, _, _ := runBuild(t, spec, nil, Options{CacheDir: cacheDir, Env: map[string]string{"HOME": home, "MARK": "one"}})
	if !first.Succeeded {
		t.Fatalf("first build failed: %+v", first)
	}
	if err := os.RemoveAll(filepath.Join(home, ".tool")); err != nil {
		t.Fatal(err)
	}

	// The second build starts from a fresh checkout.
	const check = `version: 0.2
phases:
  install:
    commands:
      - test "$(cat node_modules/dep/index.js)" = one
      - test "$(cat ~/.tool/cached)" = one
      - test -L node_modules/link
      - test ! -e tmp/not-cached
cache:
  paths:
    - node_modules/**/*
    - ~/.tool
`
	second, log, _ := runBuild(t, check, nil, Options{CacheDir: cacheDir, Env: map[string]string{"HOME": home}})
	if !second.Succeeded {
		t.Fatalf("second build failed; the cache was not restored: %+v", second)
	}
	if !strings.Contains(log, "Cache node_modules/**/*: restored") {
		t.Error("the log does not report the restore")
	}
}

func TestCacheIsNotSavedAfterAFailedBuild(t *testing.T) {
	cacheDir := t.TempDir()
	const spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p deps && echo x > deps/a\n      - 'false'\ncache:\n  paths: [deps]\n"
	res, _, _ := runBuild(t, spec, nil, Options{CacheDir: cacheDir})
	if res.Succeeded {
		t.Fatal("build succeeded")
	}
	if entries, _ := os.ReadDir(cacheDir); len(entries) != 0 {
		t.Errorf("cache holds %d entries after a failed build", len(entries))
	}
}

func TestUnwritableCachePathOnlyWarns(t *testing.T) {
	cacheDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cacheDir, "abs/proc/cutover-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cacheDir, "abs/proc/cutover-test/x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, log, _ := runBuild(t, "version: 0.2\nphases:\n  build:\n    commands: ['true']\ncache:\n  paths: ['/proc/cutover-test/**/*']\n", nil, Options{CacheDir: cacheDir})
	if !res.Succeeded {
		t.Fatalf("a cache that cannot be restored failed the build: %+v", res)
	}
	if !strings.Contains(log, "Warning: cache /proc/cutover-test/**/* is not cached") {
		t.Error("no warning about the cache that could not be restored")
	}
}
