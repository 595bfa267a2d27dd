package build

import (
	"path/filepath"
	"strings"
	"testing"
)

// An app's build-time config vars (Options.SecretEnv and Env) reach the
// build; the secret one's value is masked in the log.
func TestSecretEnvIsSetAndMasked(t *testing.T) {
	res, log, opts := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - printf '%s' "$API_KEY" > key.txt
      - echo "key=$API_KEY mode=$MODE"
`, nil, Options{Env: map[string]string{"MODE": "plain-mode"}, SecretEnv: map[string]string{"API_KEY": "k3y-f00d"}})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v\n%s", res, log)
	}
	if got := readFile(t, filepath.Join(opts.SrcDir, "key.txt")); got != "k3y-f00d" {
		t.Errorf("API_KEY = %q in the build", got)
	}
	if strings.Contains(log, "k3y-f00d") || !strings.Contains(log, "key=*** mode=plain-mode") {
		t.Errorf("the log shows the secret, or lacks the masked line:\n%s", log)
	}
}
