package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadAppStaysInsideTheAppDirectory: cutover reads and copies what
// cutover.yaml names as its own user, and the app directory may be a
// pushed commit, so every path it names, and every file it reads, must be
// inside the app directory, symlinks followed.
func TestLoadAppStaysInsideTheAppDirectory(t *testing.T) {
	const base = "name: web\nlisteners:\n  production: \":8080\"\nservice:\n  command: [./web]\n  port: 8080\n"
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root:$y$hash:19700:0:99999:7:::\n"), 0o600)
	tests := []struct {
		name  string
		yaml  string
		links map[string]string // link name in the app dir -> target
		want  string            // "" for accepted
	}{
		{"release inside", base + "  release: dist\n", nil, ""},
		{"release absolute outside", base + "  release: /root/.ssh\n", nil, "service.release"},
		{"release up and out", base + "  release: ../other\n", nil, "service.release"},
		{"release through a link out", base + "  release: out\n", map[string]string{"out": filepath.Dir(secret)}, "service.release"},
		{"buildspec out", strings.Replace(base, "service:", "build:\n  spec: /etc/shadow\nservice:", 1), nil, "build.spec"},
		{"appspec out", base + "deploy:\n  appspec: ../appspec.yaml\n", nil, "deploy.appspec"},
		{"cutover.yaml a link out", "", map[string]string{"cutover.yaml": secret}, "escapes"},
		{"appspec.yaml a link out", base, map[string]string{"appspec.yaml": secret}, "appspec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "dist"), 0o755)
			if tt.yaml != "" {
				os.WriteFile(filepath.Join(dir, AppFile), []byte(tt.yaml), 0o644)
			}
			for name, target := range tt.links {
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadApp(dir)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "$y$hash") {
				t.Fatalf("the error quotes the file outside: %v", err)
			}
		})
	}
}
