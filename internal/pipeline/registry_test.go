package pipeline

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/pipeline/build"
)

// TestBuildGetsItsRegistry: a build gets the aws command and a
// credential for its app's repository, minted for at most the build's
// timeout, and the function that revokes it; without a registry it gets
// the aws command alone.
func TestBuildGetsItsRegistry(t *testing.T) {
	log, err := openLog(filepath.Join(t.TempDir(), "execution.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.close()
	x := &execution{app: "hello", set: Settings{BuildTimeout: 10 * time.Minute}, log: log}
	var grantedTTL time.Duration
	revoked := false
	p := &Pipeline{awsCLI: "/usr/local/bin/cutover",
		registry: func(app string, ttl time.Duration) (build.Registry, func(), error) {
			grantedTTL = ttl
			return build.Registry{Host: "127.0.0.1:9190", Repository: app, Password: "cob_x"}, func() { revoked = true }, nil
		}}
	var opts build.Options
	revoke := p.giveRegistry(x, &opts)
	if opts.AWSCLI != p.awsCLI || opts.Registry == nil || opts.Registry.URI() != "127.0.0.1:9190/hello" {
		t.Fatalf("build options %+v; want the aws command and 127.0.0.1:9190/hello", opts)
	}
	if grantedTTL <= 0 || grantedTTL > 11*time.Minute {
		t.Errorf("credential minted for %s; want the build's timeout (10m) and a little", grantedTTL)
	}
	revoke()
	if !revoked {
		t.Error("the function returned does not revoke the credential")
	}

	p.registry = func(string, time.Duration) (build.Registry, func(), error) {
		return build.Registry{}, nil, errors.New("cutover serves no image registry")
	}
	opts = build.Options{}
	p.giveRegistry(x, &opts)()
	if opts.Registry != nil || opts.AWSCLI == "" {
		t.Errorf("without a registry: build options %+v; want the aws command only", opts)
	}
}
