package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Config vars are set, replaced and unset; a secret's value is sealed in
// the database file and its WAL, and given back opened.
func TestConfigVarsSetUnsetAndSealSecrets(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	seedApp(t, s, "hello")
	const secret = "s3cret-db-pass-41c9"
	set := []ConfigVar{{Name: "GREETING", Value: "hi"}, {Name: "DB_PASSWORD", Value: secret, Secret: true}}
	if err := s.ChangeConfigVars(ctx, "hello", ScopeRun, set, nil); err != nil {
		t.Fatalf("ChangeConfigVars: %v", err)
	}
	if err := s.ChangeConfigVars(ctx, "hello", ScopeRun, []ConfigVar{{Name: "GREETING", Value: "hello"}}, nil); err != nil {
		t.Fatalf("replacing GREETING: %v", err)
	}
	vars, err := s.ConfigVars(ctx, "hello", ScopeRun)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ConfigVar{}
	for _, v := range vars {
		got[v.Name] = v
	}
	if len(vars) != 2 || got["GREETING"].Value != "hello" || got["GREETING"].Secret || got["DB_PASSWORD"].Value != secret || !got["DB_PASSWORD"].Secret {
		t.Errorf("ConfigVars = %+v; want GREETING=hello and the secret DB_PASSWORD opened", vars)
	}
	if build, _ := s.ConfigVars(ctx, "hello", ScopeBuild); len(build) != 0 {
		t.Errorf("build scope = %+v; want none (the vars were set for tasks)", build)
	}

	sealed, err := s.SealedEnv(ctx, "hello", ScopeRun)
	if err != nil {
		t.Fatal(err)
	}
	if sealed["GREETING"] != "hello" || !IsSealed(sealed["DB_PASSWORD"]) {
		t.Errorf("SealedEnv = %v; want GREETING in clear and DB_PASSWORD sealed", sealed)
	}
	opened, err := s.OpenEnv(sealed)
	if err != nil || opened["DB_PASSWORD"] != secret || opened["GREETING"] != "hello" {
		t.Errorf("OpenEnv = %v, %v; want the values back", opened, err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", filepath.Base(f))
		}
	}
	evs, _ := s.Events(ctx, EventFilter{Types: []string{EventConfigVarsChanged}})
	if len(evs) != 2 || strings.Contains(string(evs[0].Data), secret) || !strings.Contains(string(evs[0].Data), "DB_PASSWORD") {
		t.Errorf("events = %+v; want two naming the vars, without values", evs)
	}

	if err := s.ChangeConfigVars(ctx, "hello", ScopeRun, nil, []string{"DB_PASSWORD"}); err != nil {
		t.Fatalf("unset: %v", err)
	}
	if vars, _ := s.ConfigVars(ctx, "hello", ScopeRun); len(vars) != 1 || vars[0].Name != "GREETING" {
		t.Errorf("after unset: %+v; want GREETING only", vars)
	}
}

// A wrong change is refused whole: nothing is set or unset.
func TestChangeConfigVarsRejects(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	seedApp(t, s, "hello")
	if err := s.ChangeConfigVars(ctx, "hello", ScopeRun, []ConfigVar{{Name: "KEEP", Value: "1"}}, nil); err != nil {
		t.Fatal(err)
	}
	ok := ConfigVar{Name: "NEW", Value: "x"}
	tests := []struct {
		name  string
		app   string
		scope string
		set   []ConfigVar
		unset []string
		want  error
	}{
		{"unknown app", "nope", ScopeRun, []ConfigVar{ok}, nil, ErrNotFound},
		{"starts with a digit", "hello", ScopeRun, []ConfigVar{ok, {Name: "1X", Value: "x"}}, nil, ErrInvalid},
		{"dash", "hello", ScopeRun, []ConfigVar{ok, {Name: "A-B", Value: "x"}}, nil, ErrInvalid},
		{"equals sign", "hello", ScopeRun, []ConfigVar{ok, {Name: "A=B", Value: "x"}}, nil, ErrInvalid},
		{"empty", "hello", ScopeRun, []ConfigVar{ok, {Name: "", Value: "x"}}, nil, ErrInvalid},
		{"PORT", "hello", ScopeRun, []ConfigVar{ok, {Name: "PORT", Value: "1"}}, nil, ErrInvalid},
		{"HOME", "hello", ScopeRun, []ConfigVar{ok, {Name: "HOME", Value: "/"}}, nil, ErrInvalid},
		{"cutover's prefix", "hello", ScopeRun, []ConfigVar{ok, {Name: "CUTOVER_APP", Value: "x"}}, nil, ErrInvalid},
		{"codebuild's prefix", "hello", ScopeBuild, []ConfigVar{ok, {Name: "codebuild_x", Value: "x"}}, nil, ErrInvalid},
		{"NUL in value", "hello", ScopeRun, []ConfigVar{ok, {Name: "B", Value: "a\x00b"}}, nil, ErrInvalid},
		{"named twice", "hello", ScopeRun, []ConfigVar{ok}, []string{"NEW"}, ErrInvalid},
		{"unset unknown", "hello", ScopeRun, []ConfigVar{ok}, []string{"KEEP", "MISSING"}, ErrNotFound},
		{"nothing", "hello", ScopeRun, nil, nil, ErrInvalid},
		{"bad scope", "hello", "deploy", []ConfigVar{ok}, nil, ErrInvalid},
	}
	before := countEvents(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.ChangeConfigVars(ctx, tt.app, tt.scope, tt.set, tt.unset)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
		})
	}
	vars, _ := s.ConfigVars(ctx, "hello", ScopeRun)
	if len(vars) != 1 || vars[0].Name != "KEEP" {
		t.Errorf("after refused changes: %+v; want KEEP only", vars)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("refused changes appended %d events", n-before)
	}
}

// A scaled count is kept with the base count of its first scale, and
// cleared; config vars and the count go with their app.
func TestScaledCountKeptAndCleared(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	seedApp(t, s, "hello")
	if _, err := s.GetScaledCount(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before any scale: %v; want ErrNotFound", err)
	}
	if err := s.SetScaledCount(ctx, "hello", 5, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetScaledCount(ctx, "hello", 3, 5); err != nil {
		t.Fatal(err)
	}
	if sc, err := s.GetScaledCount(ctx, "hello"); err != nil || sc != (ScaledCount{Count: 3, BaseCount: 2}) {
		t.Errorf("GetScaledCount = %+v, %v; want 3 over base 2", sc, err)
	}
	if err := s.ClearScaledCount(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetScaledCount(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after clear: %v; want ErrNotFound", err)
	}
}
