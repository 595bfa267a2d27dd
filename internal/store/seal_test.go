package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Pipeline secrets are sealed in the database: neither the database file
// nor its WAL holds them in clear; the store gives them back.
func TestPipelineSecretsAreSealedAtRest(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	if err := s.PutApp(ctx, App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	const secret = "pipeline-secret-7f3a9c"
	if _, err := s.PutPipeline(ctx, Pipeline{App: "hello", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetPipeline(ctx, "hello")
	if err != nil || p.Secret != secret {
		t.Fatalf("GetPipeline: %q, %v; want the secret back", p.Secret, err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", filepath.Base(f))
		}
	}
	var raw string
	if err := s.r.QueryRowContext(ctx, "SELECT secret FROM pipelines WHERE app = 'hello'").Scan(&raw); err != nil || !strings.HasPrefix(raw, sealedPrefix) {
		t.Errorf("stored secret %q, %v; want it sealed", raw, err)
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(path), KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

// A secret an older cutover kept in clear is sealed when the store opens.
func TestClearSecretsAreSealedOnOpen(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	if err := s.PutApp(ctx, App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPipeline(ctx, Pipeline{App: "hello", Secret: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "UPDATE pipelines SET secret = 'old-clear-secret' WHERE app = 'hello'"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var raw string
	s.r.QueryRowContext(ctx, "SELECT secret FROM pipelines WHERE app = 'hello'").Scan(&raw)
	if !strings.HasPrefix(raw, sealedPrefix) {
		t.Errorf("after reopening, the stored secret is %q; want it sealed", raw)
	}
	if p, err := s.GetPipeline(ctx, "hello"); err != nil || p.Secret != "old-clear-secret" {
		t.Errorf("GetPipeline: %q, %v", p.Secret, err)
	}
}
