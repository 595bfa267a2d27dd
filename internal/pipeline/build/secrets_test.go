package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/config"
)

func TestLoadSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets")
	content := "# CI secrets\n\n/ci/npm-token=npm_abc=def\nprod/db:password = s3cret \n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets, err := LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/ci/npm-token": "npm_abc=def", "prod/db:password": " s3cret "}
	if len(secrets) != len(want) {
		t.Errorf("secrets = %q, want %q", secrets, want)
	}
	for k, v := range want {
		if secrets[k] != v {
			t.Errorf("%s = %q, want %q", k, secrets[k], v)
		}
	}

	for _, bad := range []string{"no equals sign\n", "=value\n", "a=1\na=2\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSecrets(path); err == nil || !strings.Contains(err.Error(), path+":") {
			t.Errorf("LoadSecrets(%q) = %v, want an error with the line", bad, err)
		}
	}
}

const secretBuildspec = `version: 0.2
env:
  parameter-store:
    NPM_TOKEN: /ci/npm-token
  secrets-manager:
    DB_PASSWORD: prod/db:password
phases:
  build:
    commands:
      - echo "token=$NPM_TOKEN"
      - echo "password=$DB_PASSWORD" >&2
      - printf '%s' "$NPM_TOKEN" > token.txt
      - echo "literal hunter2-npm in a command"
  post_build:
    commands:
      - test hunter2-npm = no
`

func TestSecretsAreSetAndMasked(t *testing.T) {
	res, log, opts := runBuild(t, secretBuildspec, nil, Options{Secrets: map[string]string{
		"/ci/npm-token":    "hunter2-npm",
		"prod/db:password": "multi\nline-pass",
		"unused":           "not-a-variable",
	}})
	if res.Succeeded || res.Phases[3].FailedCommand != "test *** = no" {
		t.Fatalf("result = %+v, want post_build failed at a masked command", res)
	}
	if got := readFile(t, filepath.Join(opts.SrcDir, "token.txt")); got != "hunter2-npm" {
		t.Errorf("NPM_TOKEN = %q in the build", got)
	}
	for _, leak := range []string{"hunter2-npm", "line-pass"} {
		if strings.Contains(log, leak) {
			t.Errorf("the log shows the secret %q", leak)
		}
	}
	for _, want := range []string{"token=***\n", "password=***\n***\n", "Running command echo \"literal *** in a command\""} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestExportedSecretsAreMasked: a secret copied into an exported variable
// is exported masked, as the log shows it; exported variables go into
// the execution record.
func TestExportedSecretsAreMasked(t *testing.T) {
	res, log, _ := runBuild(t, `version: 0.2
env:
  parameter-store:
    NPM_TOKEN: /ci/npm-token
  secrets-manager:
    DB_PASSWORD: prod/db:password
    CERT: prod/cert
  exported-variables: [COPY, URL, DERIVED_CERT, PLAIN]
phases:
  build:
    commands:
      - COPY=$NPM_TOKEN
      - URL="postgres://app:$DB_PASSWORD@db/app"
      - DERIVED_CERT="cert:$CERT"
      - PLAIN=v1.2.3
`, nil, Options{Secrets: map[string]string{
		"/ci/npm-token":    "hunter2-npm",
		"prod/db:password": "s3cret-pass",
		"prod/cert":        "BEGIN\nbody-line\nEND",
	}})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	want := map[string]string{
		"COPY":         "***",
		"URL":          "postgres://app:***@db/app",
		"DERIVED_CERT": "cert:***",
		"PLAIN":        "v1.2.3",
	}
	for k, v := range want {
		if res.Exported[k] != v {
			t.Errorf("exported %s = %q, want %q", k, res.Exported[k], v)
		}
	}
	for _, name := range []string{"COPY", "URL", "DERIVED_CERT"} {
		if !strings.Contains(log, "Exported variable "+name+" holds a secret value") {
			t.Errorf("the log does not say that %s was masked", name)
		}
	}
	if strings.Contains(log, "Exported variable PLAIN holds") {
		t.Error("the log says a plain variable was masked")
	}
}

func TestMissingSecretStopsTheBuild(t *testing.T) {
	spec, err := config.ParseBuildspec("buildspec.yml", []byte(secretBuildspec))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Run(context.Background(), spec, Options{SrcDir: dir, Secrets: map[string]string{"/ci/npm-token": "x"}})
	if err == nil || !strings.Contains(err.Error(), `env.secrets-manager.DB_PASSWORD: no secret "prod/db:password"`) {
		t.Fatalf("err = %v, want the missing secret named", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "token.txt")); err == nil {
		t.Error("a command ran")
	}
}
