// Package auth says who is calling cutover's API and what they may do.
//
// Callers are principals with one of three roles, each allowing what the
// one before it does and more:
//
//	read    every GET: apps, deployments, tasks, logs, events
//	deploy  + create a deployment, continue, stop, rollback
//	admin   + create, list and revoke tokens
//
// A principal comes from one of two places. The unix socket in the data
// directory (mode 0600, owned by the user running cutover) is trusted as
// admin, the way docker.sock is: whoever can open it could read the store
// anyway. That is how the first token is made. Everything else (TCP)
// needs a bearer token, "Authorization: Bearer cot_...".
//
// A token is "cot_" followed by 32 random bytes in unpadded base64url. It
// is shown once, when created; the store keeps only its SHA-256, which is
// enough for a secret of 256 random bits (no salt or slow hash needed: no
// one can guess their way to a preimage). The looked-up hash is compared
// again in constant time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cutover/cutover/internal/store"
)

// Prefix starts every token, so a leaked one is easy to recognise (and to
// scan for).
const Prefix = "cot_"

// NewToken returns a fresh random token.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a token: %w", err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the hex SHA-256 of token, as the store keeps it.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether s looks like a token NewToken makes.
func wellFormed(s string) bool {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(32) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Principal is who makes a call.
type Principal struct {
	// Actor names the principal in the event log: "token:<name>", or
	// "local" for the unix socket.
	Actor string
	Role  string // store.RoleRead, RoleDeploy or RoleAdmin
}

// Local returns the principal of calls on the unix socket: admin.
func Local() Principal { return Principal{Actor: "local", Role: store.RoleAdmin} }

// rank orders the roles; an unknown role ranks below read.
func rank(role string) int {
	switch role {
	case store.RoleRead:
		return 1
	case store.RoleDeploy:
		return 2
	case store.RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether p's role includes need.
func (p Principal) Allows(need string) bool {
	return rank(need) > 0 && rank(p.Role) >= rank(need)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, and p's actor for the store's
// events.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return store.WithActor(context.WithValue(ctx, principalKey{}, p), p.Actor)
}

// FromContext returns the principal set by WithPrincipal.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
