package web

import (
	"testing"
	"time"

	"github.com/cutover/cutover/internal/auth"
)

func TestSessionsExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newSessions(time.Hour, func() time.Time { return now })
	sess, err := s.create(auth.Principal{Actor: "token:a", Role: "read"}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after time.Duration
		alive bool
	}{
		{0, true},
		{59 * time.Minute, true},
		{time.Hour, false},
		{0, false}, // gone for good once expired
	}
	for _, tt := range tests {
		now = now.Add(tt.after)
		if got := s.get(sess.id) != nil; got != tt.alive {
			t.Errorf("after %v more: alive %v, want %v", tt.after, got, tt.alive)
		}
	}
	if s.get("not-a-session") != nil {
		t.Error("an unknown id has a session")
	}
}

func TestCSRFToken(t *testing.T) {
	s := newSessions(time.Hour, time.Now)
	a, _ := s.create(auth.Principal{Actor: "token:a", Role: "deploy"}, "h1")
	b, _ := s.create(auth.Principal{Actor: "token:b", Role: "deploy"}, "h2")
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"its own", a.csrf, true},
		{"empty", "", false},
		{"another session's", b.csrf, false},
		{"a prefix", a.csrf[:10], false},
	}
	for _, tt := range tests {
		if got := a.validCSRF(tt.token); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
