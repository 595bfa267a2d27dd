package sandbox

import (
	"net/url"
	"testing"
)

func TestDockerRefusal(t *testing.T) {
	tests := []struct {
		method, path, query string
		allowed             bool
	}{
		{"GET", "/_ping", "", true},
		{"HEAD", "/v1.41/_ping", "", true},
		{"GET", "/v1.41/version", "", true},
		{"POST", "/v1.41/auth", "", true},
		{"POST", "/v1.41/build", "t=web%3A1&dockerfile=Dockerfile", true},
		{"POST", "/v1.41/build", "networkmode=host", false},
		{"POST", "/v1.41/build", "cgroupparent=%2F", false},
		{"POST", "/v1.41/build", "version=2", false},
		{"POST", "/v1.41/build", "remote=git%3A%2F%2F127.0.0.1%2Fprivate.git", false},
		{"POST", "/v1.41/build", "remote=https%3A%2F%2Fexample.com%2Fctx.tar", false},
		{"POST", "/v1.41/images/create", "fromImage=node&tag=20", true},
		{"POST", "/v1.41/images/create", "fromSrc=-", false},
		{"GET", "/v1.41/images/json", "", true},
		{"GET", "/v1.41/images/127.0.0.1:9190/web/json", "", true},
		{"POST", "/v1.41/images/127.0.0.1:9190/web/tag", "repo=x", true},
		{"POST", "/v1.41/images/127.0.0.1:9190/web/push", "tag=1", true},
		{"GET", "/v1.41/distribution/node:20/json", "", true},
		{"DELETE", "/v1.41/images/web", "", false},
		{"POST", "/v1.41/images/web/json", "", false},
		{"POST", "/v1.41/containers/create", "", false},
		{"POST", "/v1.41/containers/abc/start", "", false},
		{"GET", "/v1.41/containers/json", "", false},
		{"POST", "/v1.41/containers/abc/exec", "", false},
		{"POST", "/v1.41/exec/abc/start", "", false},
		{"POST", "/v1.41/volumes/create", "", false},
		{"POST", "/v1.41/networks/create", "", false},
		{"POST", "/v1.41/services/create", "", false},
		{"POST", "/v1.41/swarm/leave", "", false},
		{"POST", "/v1.41/plugins/pull", "", false},
		{"POST", "/session", "", false},
		{"POST", "/v1.41/build/prune", "", false},
		{"GET", "/v1.41/images/../containers/json", "", false},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		why := dockerRefusal(tt.method, tt.path, q)
		if (why == "") != tt.allowed {
			t.Errorf("%s %s?%s: refusal %q, want allowed %v", tt.method, tt.path, tt.query, why, tt.allowed)
		}
	}
}
