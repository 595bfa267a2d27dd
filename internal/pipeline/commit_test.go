package pipeline

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckCommit(t *testing.T) {
	sha1 := "0123456789abcdef0123456789abcdef01234567"
	sha256 := strings.Repeat("89abcdef", 8)
	tests := []struct {
		commit   string
		id, name bool // valid as a full id, as a name
	}{
		{sha1, true, true},
		{sha256, true, true},
		{strings.ToUpper(sha1), true, true},
		{"abc1234", false, true},
		{"abc123", false, false},
		{sha1 + "0", false, true},
		{sha256 + "0", false, false},
		{"", false, false},
		{"--orphan=x", false, false},
		{"-" + sha1[1:], false, false},
		{"HEAD", false, false},
		{"refs/heads/main", false, false},
		{"g" + sha1[1:], false, false},
		{sha1[:39] + " ", false, false},
		{sha1[:39] + "\n", false, false},
	}
	for _, tt := range tests {
		if err := CheckCommitID(tt.commit); (err == nil) != tt.id || (err != nil && !errors.Is(err, ErrBadCommit)) {
			t.Errorf("CheckCommitID(%q) = %v, want valid %v", tt.commit, err, tt.id)
		}
		if err := CheckCommitName(tt.commit); (err == nil) != tt.name || (err != nil && !errors.Is(err, ErrBadCommit)) {
			t.Errorf("CheckCommitName(%q) = %v, want valid %v", tt.commit, err, tt.name)
		}
	}
}
