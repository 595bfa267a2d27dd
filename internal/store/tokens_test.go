package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	s, _ := openTest(t)
	ctx := WithActor(context.Background(), "local")
	hash := strings.Repeat("ab", 32)

	tk, err := s.CreateToken(ctx, Token{Role: RoleDeploy, Hash: hash})
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if tk.ID != 1 || tk.Name != "token-1" || tk.CreatedAt.IsZero() {
		t.Errorf("created %+v, want id 1 named token-1", tk)
	}
	if _, err := s.CreateToken(ctx, Token{Name: "token-1", Role: RoleRead, Hash: strings.Repeat("cd", 32)}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate name: %v, want ErrConflict", err)
	}
	for _, bad := range []Token{{Name: "x", Role: "root", Hash: strings.Repeat("ef", 32)}, {Name: "y", Role: RoleRead, Hash: "short"}} {
		if _, err := s.CreateToken(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateToken(%+v): %v, want ErrInvalid", bad, err)
		}
	}

	got, err := s.TokenByHash(ctx, hash)
	if err != nil || got.Name != "token-1" || got.Role != RoleDeploy {
		t.Fatalf("TokenByHash = %+v, %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, strings.Repeat("00", 32)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
	used := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.TouchToken(ctx, tk.ID, used); err != nil {
		t.Fatal(err)
	}

	rev, err := s.RevokeToken(ctx, "token-1")
	if err != nil || !rev.Revoked() {
		t.Fatalf("RevokeToken = %+v, %v", rev, err)
	}
	if _, err := s.RevokeToken(ctx, "token-1"); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking an unknown token: %v, want ErrNotFound", err)
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(used) || !list[0].Revoked() {
		t.Fatalf("ListTokens = %+v, %v", list, err)
	}

	evs, err := s.Events(ctx, EventFilter{Types: []string{EventTokenCreated, EventTokenRevoked}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Actor != "local" || evs[1].Type != EventTokenRevoked {
		t.Fatalf("token events = %+v, want created and one revoked by local", evs)
	}
	for _, ev := range evs {
		if strings.Contains(string(ev.Data), hash) {
			t.Errorf("event %s carries the token hash: %s", ev.Type, ev.Data)
		}
	}
}
