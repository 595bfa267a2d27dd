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
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// storedManifest is one manifest PUT, kept as a file so it survives a
// restart. The fields' order matters: a truncated file still names its
// repository and reference (see damagedKeys).
type storedManifest struct {
	Repo        string `json:"repo"`
	Ref         string `json:"ref"`              // tag or digest it was pushed as
	Digest      string `json:"digest,omitempty"` // of Body; missing in files of older versions
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// manifest is a loaded or pushed manifest.
type manifest struct {
	contentType string
	body        []byte
	digest      string
}

// entry is what a reference resolves to: a manifest, or why its stored
// file cannot be served.
type entry struct {
	m   *manifest
	err error
}

// manifestStore keeps manifests in memory and one file per (repository,
// reference) in dir. File names are hashes so that any name fits. A
// manifest pushed by tag is stored under its tag and under its digest, so
// deleting the tag keeps the digest.
type manifestStore struct {
	dir   string
	mu    sync.RWMutex                // guards repos and serialises file writes
	repos map[string]map[string]entry // repository → tag or digest → entry
}

func newManifestStore(dir string) *manifestStore {
	return &manifestStore{dir: dir, repos: map[string]map[string]entry{}}
}

func (s *manifestStore) path(repo, ref string) string {
	sum := sha256.Sum256([]byte(repo + "\x00" + ref))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:])+".json")
}

// get returns the manifest repo:ref resolves to.
func (s *manifestStore) get(repo, ref string) (*manifest, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	refs, ok := s.repos[repo]
	if !ok {
		return nil, errorf(http.StatusNotFound, "NAME_UNKNOWN", "repository %s is not in the registry", repo)
	}
	e, ok := refs[ref]
	switch {
	case !ok:
		return nil, errorf(http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest %s is not in repository %s", ref, repo)
	case e.err != nil:
		return nil, errorf(http.StatusNotFound, "MANIFEST_UNKNOWN", "the stored manifest %s of %s cannot be read (%v); push it again", ref, repo, e.err)
	}
	return e.m, nil
}

// has says whether repo holds a readable manifest under ref.
func (s *manifestStore) has(repo, ref string) bool {
	_, err := s.get(repo, ref)
	return err == nil
}

// put stores m under its digest and, when ref is a tag, under ref.
func (s *manifestStore) put(repo, ref string, m *manifest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range uniq(m.digest, ref) {
		stored := storedManifest{Repo: repo, Ref: r, Digest: m.digest, ContentType: m.contentType, Body: m.body}
		if err := s.write(stored); err != nil {
			return fmt.Errorf("storing manifest %s of %s: %w", r, repo, err)
		}
		s.set(repo, r, entry{m: m})
	}
	return nil
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func (s *manifestStore) set(repo, ref string, e entry) {
	if s.repos[repo] == nil {
		s.repos[repo] = map[string]entry{}
	}
	s.repos[repo][ref] = e
}

// remove deletes repo:ref. Deleting a tag keeps the manifest under its
// digest; deleting a digest deletes every tag that points to it, as
// docker/distribution does. Indexes that list the manifest are kept.
func (s *manifestStore) remove(repo, ref string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	refs, ok := s.repos[repo]
	if !ok {
		return errorf(http.StatusNotFound, "NAME_UNKNOWN", "repository %s is not in the registry", repo)
	}
	e, ok := refs[ref]
	if !ok {
		return errorf(http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest %s is not in repository %s", ref, repo)
	}
	doomed := []string{ref}
	if isDigest(ref) {
		for r, other := range refs {
			if other.m != nil && other.m.digest == ref {
				doomed = append(doomed, r)
			}
		}
	} else if e.m != nil {
		if err := s.keepDigest(repo, e.m); err != nil {
			return errorf(http.StatusInternalServerError, "UNKNOWN", "%v", err)
		}
	}
	for _, r := range doomed {
		if err := os.Remove(s.path(repo, r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errorf(http.StatusInternalServerError, "UNKNOWN", "deleting manifest %s of %s: %v", r, repo, err)
		}
		delete(refs, r)
	}
	if len(refs) == 0 {
		delete(s.repos, repo)
	}
	return nil
}

// keepDigest makes sure m is stored under its digest, which manifests
// pushed by tag before digests were stored too are not.
func (s *manifestStore) keepDigest(repo string, m *manifest) error {
	if _, err := os.Stat(s.path(repo, m.digest)); err == nil {
		return nil
	}
	stored := storedManifest{Repo: repo, Ref: m.digest, Digest: m.digest, ContentType: m.contentType, Body: m.body}
	if err := s.write(stored); err != nil {
		return fmt.Errorf("keeping manifest %s of %s: %w", m.digest, repo, err)
	}
	return nil
}

// write stores m atomically: a reader sees the old or the new file.
func (s *manifestStore) write(m storedManifest) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, "put-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.path(m.Repo, m.Ref))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// tags lists repo's tags, sorted.
func (s *manifestStore) tags(repo string) ([]string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	refs, ok := s.repos[repo]
	if !ok {
		return nil, false
	}
	tags := []string{}
	for r := range refs {
		if !isDigest(r) {
			tags = append(tags, r)
		}
	}
	slices.Sort(tags)
	return tags, true
}

// repositories lists the repositories, sorted.
func (s *manifestStore) repositories() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := []string{}
	for name := range s.repos {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// digestOf returns body's digest.
func digestOf(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newManifest makes a manifest of a pushed or stored body.
func newManifest(contentType string, body []byte) *manifest {
	return &manifest{contentType: contentType, body: bytes.Clone(body), digest: digestOf(body)}
}
