package build

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/config"
)

// LoadSecrets reads a secrets file: one "REFERENCE=value" per line, where
// REFERENCE is what a buildspec's env.parameter-store or
// env.secrets-manager names (e.g. /ci/npm-token or prod/db:password).
// Blank lines and lines starting with # are skipped; the value is the
// rest of the line after the first "=", taken literally.
func LoadSecrets(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading secrets: %w", err)
	}
	secrets := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		ref, value, ok := strings.Cut(line, "=")
		ref = strings.TrimSpace(ref)
		if !ok || ref == "" {
			return nil, fmt.Errorf("%s:%d: write REFERENCE=value", path, n)
		}
		if _, dup := secrets[ref]; dup {
			return nil, fmt.Errorf("%s:%d: %s is repeated", path, n, ref)
		}
		secrets[ref] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading secrets: %w", err)
	}
	return secrets, nil
}

// secretVariables returns the build's secret variables with their values,
// or an error naming every reference that has no value.
func secretVariables(env config.BuildEnv, secrets map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, section := range []struct {
		name string
		refs map[string]string
	}{{"parameter-store", env.ParameterStore}, {"secrets-manager", env.SecretsManager}} {
		for name, ref := range section.refs {
			value, ok := secrets[ref]
			if !ok {
				missing = append(missing, fmt.Sprintf("env.%s.%s: no secret %q", section.name, name, ref))
				continue
			}
			out[name] = value
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("the build's secrets lack what the buildspec needs: %s", strings.Join(missing, "; "))
	}
	return out, nil
}

// masker returns a replacer that hides the secret values, and each line
// of a multi-line value, as "***"; nil when there is nothing to hide.
func masker(values map[string]string) *strings.Replacer {
	var hide []string
	for _, v := range values {
		for _, part := range append([]string{v}, strings.Split(v, "\n")...) {
			if strings.TrimSpace(part) != "" && !slices.Contains(hide, part) {
				hide = append(hide, part)
			}
		}
	}
	if len(hide) == 0 {
		return nil
	}
	// Longest first, so a secret that contains another is hidden whole.
	slices.SortFunc(hide, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(hide))
	for _, h := range hide {
		pairs = append(pairs, h, "***")
	}
	return strings.NewReplacer(pairs...)
}
