package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/auth"
)

// session is one signed-in browser.
type session struct {
	id        string
	principal auth.Principal
	tokenHash string // the token signed in with, checked again on each request
	csrf      string // the synchronizer token every POST form carries
	expires   time.Time
}

// sessions holds the signed-in browsers in memory.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, byID: map[string]*session{}}
}

// create starts a session for p, signed in with the token of hash.
func (s *sessions) create(p auth.Principal, tokenHash string) (*session, error) {
	id, err := randomString()
	if err != nil {
		return nil, err
	}
	csrf, err := randomString()
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &session{id: id, principal: p, tokenHash: tokenHash, csrf: csrf, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.byID { // forget the expired ones while here
		if !now.Before(old.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[id] = sess
	return sess, nil
}

// get returns the live session of id, or nil.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[id]
	if sess == nil {
		return nil
	}
	if !s.now().Before(sess.expires) {
		delete(s.byID, id)
		return nil
	}
	return sess
}

// end forgets the session of id.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// validCSRF reports whether token is the session's CSRF token.
func (sess *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) == 1
}

// randomString returns 32 random bytes in unpadded base64url.
func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a session secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
