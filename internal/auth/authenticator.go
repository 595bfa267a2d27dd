package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Why Authenticate refuses; each is answered 401.
var (
	ErrNoToken  = errors.New("this API needs a token: send Authorization: Bearer cot_... (create one with `cutover token create`)")
	ErrBadToken = errors.New("the token is not valid")
	ErrRevoked  = errors.New("the token has been revoked")
)

// TokenStore is what an Authenticator needs from the store.
type TokenStore interface {
	TokenByHash(ctx context.Context, hash string) (store.Token, error)
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// touchEvery is how stale a token's last use may get before a call
// records it again: often enough to answer "is this token still used?",
// rarely enough that reads do not turn into writes.
const touchEvery = time.Minute

// Authenticator turns a request's bearer token into a Principal.
type Authenticator struct {
	tokens TokenStore
	log    *slog.Logger
	now    func() time.Time
}

// NewAuthenticator returns an Authenticator of the tokens in ts.
func NewAuthenticator(ts TokenStore, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{tokens: ts, log: log, now: time.Now}
}

// Authenticate returns the principal of r's bearer token. It refuses a
// missing, malformed, unknown or revoked token with ErrNoToken,
// ErrBadToken or ErrRevoked.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, ErrNoToken
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, fmt.Errorf("%w: use the Bearer scheme", ErrBadToken)
	}
	token = strings.TrimSpace(token)
	if !wellFormed(token) {
		return Principal{}, ErrBadToken
	}
	hash := Hash(token)
	tk, err := a.tokens.TokenByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrBadToken
	} else if err != nil {
		return Principal{}, fmt.Errorf("checking the token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(tk.Hash), []byte(hash)) != 1 {
		return Principal{}, ErrBadToken
	}
	if tk.Revoked() {
		return Principal{}, ErrRevoked
	}
	if now := a.now(); now.Sub(tk.LastUsedAt) >= touchEvery {
		if err := a.tokens.TouchToken(context.WithoutCancel(r.Context()), tk.ID, now); err != nil {
			a.log.Warn("recording a token's use", "token", tk.Name, "error", err)
		}
	}
	return Principal{Actor: "token:" + tk.Name, Role: tk.Role}, nil
}
