package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token roles, from least to most allowed. internal/auth says what each
// may do.
const (
	RoleRead   = "read"
	RoleDeploy = "deploy"
	RoleAdmin  = "admin"
)

// Token is an API token as stored: its SHA-256, never the token itself.
type Token struct {
	ID         int64     `json:"id"` // set by the store
	Name       string    `json:"name"`
	Role       string    `json:"role"`       // RoleRead, RoleDeploy or RoleAdmin
	Hash       string    `json:"-"`          // hex SHA-256 of the token
	CreatedAt  time.Time `json:"created_at"` // set by the store
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Token event types. Their data is the Token, without its hash.
const (
	EventTokenCreated = "token.created"
	EventTokenRevoked = "token.revoked"
)

const tokenColumns = "id, name, role, hash, created_at, last_used_at, revoked_at"

func scanToken(row scanner) (Token, error) {
	var tk Token
	var created, used, revoked timeValue
	if err := row.Scan(&tk.ID, &tk.Name, &tk.Role, &tk.Hash, &created, &used, &revoked); err != nil {
		return Token{}, err
	}
	tk.CreatedAt, tk.LastUsedAt, tk.RevokedAt = created.t, used.t, revoked.t
	return tk, nil
}

func validRole(r string) bool {
	return r == RoleRead || r == RoleDeploy || r == RoleAdmin
}

// CreateToken records a token and appends token.created. An empty Name
// becomes "token-<id>"; a name in use, even by a revoked token, is
// refused with ErrConflict, so an audit trail's names stay unambiguous.
func (s *Store) CreateToken(ctx context.Context, tk Token) (Token, error) {
	err := s.write(ctx, "creating token "+tk.Name, func(t *tx) error {
		if !validRole(tk.Role) {
			return fmt.Errorf("%w: role %q: use read, deploy or admin", ErrInvalid, tk.Role)
		}
		if len(tk.Hash) != 64 {
			return fmt.Errorf("%w: the token hash must be 64 hex digits", ErrInvalid)
		}
		tk.CreatedAt, tk.LastUsedAt, tk.RevokedAt = t.now, time.Time{}, time.Time{}
		if err := t.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM api_tokens").Scan(&tk.ID); err != nil {
			return err
		}
		if tk.Name == "" {
			tk.Name = fmt.Sprintf("token-%d", tk.ID)
		}
		_, err := t.ExecContext(ctx,
			`INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			tk.ID, tk.Name, tk.Role, tk.Hash, formatTime(tk.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: a token named %q exists (names of revoked tokens are not reused)", ErrConflict, tk.Name)
		} else if err != nil {
			return err
		}
		return t.emit(ctx, EventTokenCreated, "", "", tk)
	})
	if err != nil {
		return Token{}, err
	}
	return tk, nil
}

// ListTokens returns every token, revoked ones too, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	tks, err := queryAll(ctx, s.r, scanToken, "SELECT "+tokenColumns+" FROM api_tokens ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return tks, nil
}

// TokenByHash returns the token whose hash is hash, revoked or not, or
// ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	tk, err := scanToken(s.r.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("looking up a token: %w", ErrNotFound)
	} else if err != nil {
		return Token{}, fmt.Errorf("looking up a token: %w", err)
	}
	return tk, nil
}

// RevokeToken revokes the token called name and appends token.revoked.
// Revoking a revoked token changes nothing and is not an error.
func (s *Store) RevokeToken(ctx context.Context, name string) (Token, error) {
	var tk Token
	err := s.write(ctx, "revoking token "+name, func(t *tx) error {
		var err error
		tk, err = scanToken(t.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE name = ?", name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %q: %w", name, ErrNotFound)
		} else if err != nil {
			return err
		}
		if tk.Revoked() {
			return nil
		}
		tk.RevokedAt = t.now
		if _, err := t.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", formatTime(tk.RevokedAt), tk.ID); err != nil {
			return err
		}
		return t.emit(ctx, EventTokenRevoked, "", "", tk)
	})
	if err != nil {
		return Token{}, err
	}
	return tk, nil
}

// TouchToken records that the token was used at. It is bookkeeping, not
// a change anyone follows: it appends no event.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return s.write(ctx, "recording a token's use", func(t *tx) error {
		_, err := t.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL", formatTime(at), id)
		return err
	})
}
