package auth

import (
	"testing"
	"time"
)

func TestRepositoryGrants(t *testing.T) {
	g := NewRepositoryGrants()
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	cred, revoke, err := g.Grant("hello", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if repo, ok := g.Repository(cred); !ok || repo != "hello" {
		t.Fatalf("Repository(fresh grant) = %q, %v; want hello, true", repo, ok)
	}
	for _, bad := range []string{"", "cot_x", cred + "x", GrantPrefix} {
		if _, ok := g.Repository(bad); ok {
			t.Errorf("Repository(%q) accepted", bad)
		}
	}
	revoke()
	if _, ok := g.Repository(cred); ok {
		t.Error("a revoked grant is accepted")
	}

	cred, _, _ = g.Grant("hello", time.Minute)
	now = now.Add(time.Minute)
	if _, ok := g.Repository(cred); ok {
		t.Error("an expired grant is accepted")
	}
	g.Grant("other", time.Minute)
	if len(g.grants) != 1 {
		t.Errorf("%d grants held after one expired and one was made; want 1", len(g.grants))
	}
}
