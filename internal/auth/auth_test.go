package auth

import (
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func TestNewToken(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewToken()
	if a == b || !strings.HasPrefix(a, Prefix) || !wellFormed(a) {
		t.Fatalf("tokens %q, %q: want two different well-formed cot_ tokens", a, b)
	}
	if len(Hash(a)) != 64 || Hash(a) == Hash(b) || Hash(a) != Hash(a) {
		t.Error("Hash is not a stable hex SHA-256")
	}
	for _, bad := range []string{"", "cot_", "cot_short", a[len(Prefix):], "xyz_" + a[len(Prefix):], a + "A"} {
		if wellFormed(bad) {
			t.Errorf("wellFormed(%q) = true", bad)
		}
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		role, need string
		want       bool
	}{
		{store.RoleRead, store.RoleRead, true},
		{store.RoleRead, store.RoleDeploy, false},
		{store.RoleRead, store.RoleAdmin, false},
		{store.RoleDeploy, store.RoleRead, true},
		{store.RoleDeploy, store.RoleDeploy, true},
		{store.RoleDeploy, store.RoleAdmin, false},
		{store.RoleAdmin, store.RoleAdmin, true},
		{"", store.RoleRead, false},
		{store.RoleAdmin, "", false}, // a route without a role is a mistake: refuse
	}
	for _, tt := range tests {
		if got := (Principal{Role: tt.role}).Allows(tt.need); got != tt.want {
			t.Errorf("%q allows %q = %v, want %v", tt.role, tt.need, got, tt.want)
		}
	}
}
