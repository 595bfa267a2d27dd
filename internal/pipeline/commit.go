package pipeline

import (
	"errors"
	"fmt"
)

// ErrBadCommit: a commit given from outside (a webhook's payload, the
// API) is not a hexadecimal commit id, so it is never handed to git,
// where it could be read as an option or a ref.
var ErrBadCommit = errors.New("not a commit id")

// minAbbrev is the shortest abbreviated commit id accepted, git's
// default abbreviation length.
const minAbbrev = 7

// CheckCommitID returns nil when id is a full commit id: 40 hexadecimal
// digits (SHA-1) or 64 (SHA-256), as forges send them.
func CheckCommitID(id string) error {
	if (len(id) != 40 && len(id) != 64) || !isHex(id) {
		return fmt.Errorf("commit %q: %w: want 40 or 64 hexadecimal digits", id, ErrBadCommit)
	}
	return nil
}

// CheckCommitName returns nil when name is a full commit id or one
// abbreviated to at least 7 hexadecimal digits, as `git log --oneline`
// shows them.
func CheckCommitName(name string) error {
	if len(name) < minAbbrev || len(name) > 64 || !isHex(name) {
		return fmt.Errorf("commit %q: %w: want %d to 64 hexadecimal digits", name, ErrBadCommit, minAbbrev)
	}
	return nil
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
