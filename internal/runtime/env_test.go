package runtime

import (
	"slices"
	"testing"
)

func TestInheritedEnvKeepsToolsAndLocaleOnly(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC",
		"AWS_SECRET_ACCESS_KEY=secret", "CUTOVER_TOKEN=tok", "DOCKER_HOST=unix:///var/run/docker.sock",
		"GITHUB_TOKEN=ghp", "SSH_AUTH_SOCK=/tmp/agent", "NOT_A_PAIR",
	}
	got := InheritedEnv(environ)
	want := []string{"PATH=/usr/bin", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC"}
	if !slices.Equal(got, want) {
		t.Errorf("InheritedEnv = %v, want %v", got, want)
	}
}
