package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAppRelease(t *testing.T) {
	base := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"
	tests := []struct {
		name    string
		yaml    string
		command []string
		timeout time.Duration
	}{
		{"none", base, nil, DefaultReleaseTimeout},
		{"argument list", base + "deploy: {release: [node, migrate.js]}\n", []string{"node", "migrate.js"}, DefaultReleaseTimeout},
		{"shell string", base + "deploy: {release: ./migrate.sh && echo done}\n", []string{"/bin/sh", "-c", "./migrate.sh && echo done"}, DefaultReleaseTimeout},
		{"timeout", base + "deploy: {release: [node, migrate.js], release_timeout: 90s}\n", []string{"node", "migrate.js"}, 90 * time.Second},
		{"rolling", base + "deploy: {strategy: rolling, release: [./m]}\n", []string{"./m"}, DefaultReleaseTimeout},
		{"docker", "name: a\nservice: {runtime: docker, image: a:1, port: 80}\nlisteners: {production: ':1'}\ndeploy: {release: [./m]}\n", []string{"./m"}, DefaultReleaseTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := ParseApp("cutover.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			if !reflect.DeepEqual(app.Deploy.Release, tt.command) || app.Deploy.ReleaseTimeout != tt.timeout {
				t.Errorf("release = %q, timeout %s; want %q, %s", app.Deploy.Release, app.Deploy.ReleaseTimeout, tt.command, tt.timeout)
			}
		})
	}
}

func TestParseAppReleaseErrors(t *testing.T) {
	base := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty list", base + "deploy: {release: []}\n", "cutover.yaml:4:19: deploy.release: must not be empty"},
		{"empty string", base + "deploy: {release: ' '}\n", "cutover.yaml:4:19: deploy.release: must not be empty"},
		{"mapping", base + "deploy: {release: {cmd: x}}\n", "cutover.yaml:4:19: deploy.release:"},
		{"timeout too long", base + "deploy: {release: [x], release_timeout: 2h}\n", "cutover.yaml:4:41: deploy.release_timeout: 2h0m0s is out of range; valid: 1s-1h"},
		{"timeout not a duration", base + "deploy: {release: [x], release_timeout: soon}\n", "cutover.yaml:4:41: deploy.release_timeout:"},
		{"timeout without command", base + "deploy: {release_timeout: 1m}\n", "deploy.release_timeout: applies to a release command; give deploy.release too"},
		{"swarm", "name: a\nservice: {runtime: swarm, image: a:1, port: 80}\nlisteners: {production: ':1'}\ndeploy: {release: [x]}\n",
			"cutover.yaml:4:19: deploy.release: is not supported on the swarm runtime yet; valid runtimes for a release command: process, docker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := ParseApp("cutover.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseApp accepted bad input: %+v", app.Deploy)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}
