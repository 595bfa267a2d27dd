package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
)

// storedManifest is one manifest PUT, kept as a file so it can be replayed.
type storedManifest struct {
	Repo        string `json:"repo"`
	Ref         string `json:"ref"` // tag or digest it was pushed as
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// manifestStore keeps one file per (repository, reference). File names are
// hashes so that any repository name and tag fit.
type manifestStore struct {
	dir string
	mu  sync.Mutex // serialises writes and removes of the same file
}

func (s *manifestStore) path(repo, ref string) string {
	sum := sha256.Sum256([]byte(repo + "\x00" + ref))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:])+".json")
}

// save writes m atomically: a reader sees the old or the new manifest.
func (s *manifestStore) save(m storedManifest) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.CreateTemp(s.dir, "put-*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), s.path(m.Repo, m.Ref))
}

func (s *manifestStore) remove(repo, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := os.Remove(s.path(repo, ref))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// replay PUTs every stored manifest into h. An index is accepted only once
// the manifests it lists are there, so manifests that fail are retried
// until a round makes no progress.
func (s *manifestStore) replay(h http.Handler) error {
	files, err := filepath.Glob(filepath.Join(s.dir, "*.json"))
	if err != nil {
		return err
	}
	var pending []storedManifest
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var m storedManifest
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		pending = append(pending, m)
	}
	for len(pending) > 0 {
		var failed []storedManifest
		var lastErr error
		for _, m := range pending {
			req := httptest.NewRequest(http.MethodPut, "/v2/"+m.Repo+"/manifests/"+m.Ref, bytes.NewReader(m.Body))
			req.Header.Set("Content-Type", m.ContentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				failed = append(failed, m)
				lastErr = fmt.Errorf("manifest %s:%s: status %d: %s", m.Repo, m.Ref, rec.Code, rec.Body.String())
			}
		}
		if len(failed) == len(pending) {
			return lastErr
		}
		pending = failed
	}
	return nil
}
