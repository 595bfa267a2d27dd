package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// blobStore keeps blobs as dir/sha256/<hex>, shared by all repositories.
// A blob is checked against its digest when first read, and again when
// its file changes, so a damaged file answers an error instead of the
// wrong bytes.
type blobStore struct {
	dir      string
	log      *slog.Logger
	mu       sync.Mutex
	verified map[string]stamp // digest → its file when it last matched
}

// stamp identifies a version of a file.
type stamp struct {
	size    int64
	modTime time.Time
}

func newBlobStore(dir string, log *slog.Logger) *blobStore {
	return &blobStore{dir: dir, log: log, verified: map[string]stamp{}}
}

// path returns where the blob with digest d lives; d must be valid.
func (b *blobStore) path(d string) string {
	alg, hexPart, _ := strings.Cut(d, ":")
	return filepath.Join(b.dir, alg, hexPart)
}

// exists says whether a file is stored for d, without checking it.
func (b *blobStore) exists(d string) bool {
	if !isDigest(d) {
		return false
	}
	fi, err := os.Stat(b.path(d))
	return err == nil && fi.Mode().IsRegular()
}

// serve answers GET and HEAD of blob d, with ranges.
func (b *blobStore) serve(w http.ResponseWriter, r *http.Request, d string) {
	f, err := b.open(d)
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", d)
	w.Header().Set("ETag", `"`+d+`"`)
	http.ServeContent(w, r, "", time.Time{}, f)
}

// open opens blob d once its content is known to match d.
func (b *blobStore) open(d string) (*os.File, *apiError) {
	f, err := os.Open(b.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(http.StatusNotFound, "BLOB_UNKNOWN", "blob %s is not in the registry", d)
	}
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "UNKNOWN", "opening blob %s: %v", d, err)
	}
	if err := b.verify(f, d); err != nil {
		f.Close()
		b.log.Error("registry: a stored blob is damaged", "digest", d, "file", f.Name(), "err", err)
		return nil, errorf(http.StatusNotFound, "BLOB_UNKNOWN", "the stored blob %s is damaged (%v); push it again", d, err)
	}
	return f, nil
}

// verify checks f against digest d unless this version of f was checked
// before, and leaves f at its start.
func (b *blobStore) verify(f *os.File, d string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading the file's size: %w", err)
	}
	now := stamp{size: fi.Size(), modTime: fi.ModTime()}
	b.mu.Lock()
	known := b.verified[d] == now
	b.mu.Unlock()
	if known {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading the file: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d {
		return fmt.Errorf("its content (%d bytes) has digest %s", fi.Size(), got)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewinding the file: %w", err)
	}
	b.mu.Lock()
	b.verified[d] = now
	b.mu.Unlock()
	return nil
}

// commit moves a finished upload, whose content has digest d, into place.
func (b *blobStore) commit(upload, d string) error {
	dst := b.path(d)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("storing blob %s: %w", d, err)
	}
	if err := os.Rename(upload, dst); err != nil {
		return fmt.Errorf("storing blob %s: %w", d, err)
	}
	b.mu.Lock()
	delete(b.verified, d)
	b.mu.Unlock()
	return nil
}

// remove deletes blob d.
func (b *blobStore) remove(d string) *apiError {
	err := os.Remove(b.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return errorf(http.StatusNotFound, "BLOB_UNKNOWN", "blob %s is not in the registry", d)
	}
	if err != nil {
		return errorf(http.StatusInternalServerError, "UNKNOWN", "deleting blob %s: %v", d, err)
	}
	b.mu.Lock()
	delete(b.verified, d)
	b.mu.Unlock()
	return nil
}
