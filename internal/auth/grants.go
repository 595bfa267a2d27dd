package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"
)

// GrantPrefix starts every repository grant, so that one is told apart
// from an API token (Prefix) at a glance.
const GrantPrefix = "cob_"

// RepositoryGrants are short-lived credentials of the built-in image
// registry, each allowing pushes to and pulls from one repository and
// nothing else: what a pipeline build gets as its ECR login. They are
// held in memory only, by their hash: a restart of cutover ends them all,
// as it ends the builds that hold them.
type RepositoryGrants struct {
	mu     sync.Mutex
	grants map[string]grant // by Hash of the credential
	now    func() time.Time
}

type grant struct {
	repo    string
	expires time.Time
}

// NewRepositoryGrants returns an empty set of grants.
func NewRepositoryGrants() *RepositoryGrants {
	return &RepositoryGrants{grants: map[string]grant{}, now: time.Now}
}

// Grant mints a credential for repo that expires after ttl, and the
// function that revokes it before then.
func (g *RepositoryGrants) Grant(repo string, ttl time.Duration) (credential string, revoke func(), err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("generating a registry credential: %w", err)
	}
	credential = GrantPrefix + base64.RawURLEncoding.EncodeToString(b)
	key := Hash(credential)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire()
	g.grants[key] = grant{repo: repo, expires: g.now().Add(ttl)}
	return credential, func() { g.revoke(key) }, nil
}

// Repository returns the repository credential may use, false when it is
// not a grant, has expired or was revoked.
func (g *RepositoryGrants) Repository(credential string) (string, bool) {
	if !strings.HasPrefix(credential, GrantPrefix) {
		return "", false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, ok := g.grants[Hash(credential)]
	if !ok || !g.now().Before(gr.expires) {
		return "", false
	}
	return gr.repo, true
}

func (g *RepositoryGrants) revoke(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.grants, key)
}

// expire forgets the grants that have expired; g.mu is held.
func (g *RepositoryGrants) expire() {
	now := g.now()
	for k, gr := range g.grants {
		if !now.Before(gr.expires) {
			delete(g.grants, k)
		}
	}
}
