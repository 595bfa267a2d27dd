package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// upload is an upload session: its bytes so far are in a file of the
// upload directory, and their digest is computed as they arrive.
type upload struct {
	id, repo string
	path     string
	// Written only by the request that claimed the session.
	size int64
	hash hash.Hash
	// Guarded by uploads.mu.
	busy bool      // a request is writing
	last time.Time // when the last request ended
}

// uploads are the open upload sessions, bounded in number and in the
// bytes they hold; sessions idle for longer than ttl are expired.
type uploads struct {
	dir      string
	ttl      time.Duration
	max      int
	maxBytes int64
	readIdle time.Duration // how long a request may send nothing

	mu       sync.Mutex
	sessions map[string]*upload
	bytes    int64 // held by the sessions' files
}

// errUploadLimit is returned when the open uploads hold maxBytes.
var errUploadLimit = errors.New("the uploads in progress hold as many bytes as the registry allows")

// start opens a session for repo.
func (u *uploads) start(repo string) (*upload, *apiError) {
	var raw [16]byte
	rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	s := &upload{id: id, repo: repo, path: filepath.Join(u.dir, id), hash: sha256.New(), busy: true}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sessions) >= u.max {
		return nil, errorf(http.StatusTooManyRequests, "TOOMANYREQUESTS", "%d uploads are in progress, as many as the registry allows; try again later", len(u.sessions))
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "UNKNOWN", "creating an upload file: %v", err)
	}
	f.Close()
	u.sessions[id] = s
	return s, nil
}

// claim returns session id of repo for one request to write, which must
// release or finish it.
func (u *uploads) claim(repo, id string) (*upload, *apiError) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.sessions[id]
	if !ok || s.repo != repo {
		return nil, errorf(http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload %s is not in progress (finished, cancelled or expired)", id)
	}
	if s.busy {
		return nil, errorf(http.StatusConflict, "BLOB_UPLOAD_INVALID", "another request is writing upload %s", id)
	}
	s.busy = true
	return s, nil
}

// release ends a request's claim on s; s expires ttl later unless used.
func (u *uploads) release(s *upload) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s.busy, s.last = false, time.Now()
}

// unclaim ends a request's claim on s without counting it as activity.
func (u *uploads) unclaim(s *upload) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s.busy = false
}

// finish ends session s and removes its file, if still there.
func (u *uploads) finish(s *upload) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.drop(s)
}

// drop needs u.mu held.
func (u *uploads) drop(s *upload) {
	delete(u.sessions, s.id)
	u.bytes -= s.size
	os.Remove(s.path) // may be gone (committed); a file left over is removed by the next New
}

// expire ends the sessions idle since before now-ttl and returns how
// many it ended.
func (u *uploads) expire(now time.Time) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, s := range u.sessions {
		if !s.busy && now.Sub(s.last) > u.ttl {
			u.drop(s)
			n++
		}
	}
	return n
}

// reserve counts n more bytes held by uploads, unless that exceeds
// maxBytes.
func (u *uploads) reserve(n int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bytes+n > u.maxBytes {
		return errUploadLimit
	}
	u.bytes += n
	return nil
}

func (u *uploads) unreserve(n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bytes -= n
}

// write appends body to claimed session s, streaming it to s's file.
func (u *uploads) write(s *upload, body io.Reader) error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("opening upload file: %w", err)
	}
	_, err = io.Copy(sessionWriter{u: u, s: s, f: f}, body)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing upload file: %w", cerr)
	}
	return err
}

// sessionWriter writes to a session's file, counting and hashing what
// was written.
type sessionWriter struct {
	u *uploads
	s *upload
	f *os.File
}

func (w sessionWriter) Write(p []byte) (int, error) {
	if err := w.u.reserve(int64(len(p))); err != nil {
		return 0, err
	}
	n, err := w.f.Write(p)
	w.s.hash.Write(p[:n])
	w.s.size += int64(n)
	w.u.unreserve(int64(len(p) - n))
	if err != nil {
		return n, fmt.Errorf("writing upload file: %w", err)
	}
	return n, nil
}

// digest returns the digest of what s holds.
func (s *upload) digest() string {
	return "sha256:" + hex.EncodeToString(s.hash.Sum(nil))
}

// sync flushes s's file to disk.
func (s *upload) sync() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening upload file: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("flushing upload file: %w", err)
	}
	return nil
}
