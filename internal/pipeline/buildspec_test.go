package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadBuildspecStaysInTheCheckout: a commit's buildspec.yml that is a
// symlink out of the checkout is refused without reading (and quoting)
// the file it points to; a missing one is os.ErrNotExist.
func TestReadBuildspecStaysInTheCheckout(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(secret, []byte("root:$y$secret-hash:19700::::::\n"), 0o600)
	src := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(src, "buildspec.yml")); err != nil {
		t.Fatal(err)
	}
	_, err := readBuildspec(&workspace{src: src})
	if err == nil || errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "secret-hash") {
		t.Fatalf("a buildspec linked out of the checkout: %v", err)
	}
	if _, err := readBuildspec(&workspace{src: t.TempDir()}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no buildspec: %v, want os.ErrNotExist", err)
	}
}
