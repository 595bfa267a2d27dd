package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/awscli"
	"github.com/cutover/cutover/internal/sandbox"
	"github.com/cutover/cutover/internal/sandbox/sandboxtest"
)

// TestMain makes the test binary act as aws when a build calls it by
// that name, as cmd/cutover does.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "aws" {
		os.Exit(awscli.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestBuildHasAnECRRepository checks what a build with a registry gets,
// in a sandbox and without one: the AWS variables, REPOSITORY_URI, and an
// aws whose ecr get-login and get-login-password print the credential,
// which the log never shows; other subcommands fail clearly without a
// real AWS CLI.
func TestBuildHasAnECRRepository(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const spec = `version: 0.2
env:
  variables: {PATH: /usr/bin:/bin}
phases:
  build:
    commands:
      - echo "region=$AWS_DEFAULT_REGION,$AWS_REGION account=$AWS_ACCOUNT_ID uri=$REPOSITORY_URI"
      - echo "login=$(aws ecr get-login --region $AWS_DEFAULT_REGION --no-include-email)"
      - test "$(aws --region local ecr get-login-password)" = "$CUTOVER_REGISTRY_PASSWORD" && echo password ok
      - aws s3 ls || echo "s3 refused"
`
	reg := &Registry{Host: "127.0.0.1:9190", Repository: "hello", Password: "cob_build-credential"}
	for name, sb := range map[string]*sandbox.Sandbox{"unsandboxed": nil, "sandboxed": sandboxtest.Full(t)} {
		t.Run(name, func(t *testing.T) {
			res, log, _ := runBuild(t, spec, nil, Options{Sandbox: sb, Registry: reg, AWSCLI: self})
			if !res.Succeeded {
				t.Fatalf("build failed: %+v", res)
			}
			for _, want := range []string{
				"region=local,local account=000000000000 uri=127.0.0.1:9190/hello",
				"login=docker login -u AWS -p *** 127.0.0.1:9190",
				"password ok",
				"s3 refused",
			} {
				if !strings.Contains(log, want) {
					t.Errorf("the log lacks %q", want)
				}
			}
			if strings.Contains(log, reg.Password) {
				t.Error("the log shows the registry credential")
			}
			if _, err := os.Stat("/usr/bin/aws"); err != nil && !strings.Contains(log, "no AWS CLI is installed") {
				t.Error("aws s3 does not say that no AWS CLI is installed")
			}
		})
	}
}

// TestBuildWithoutRegistry: the AWS identity is there, a buildspec's own
// AWS_ACCOUNT_ID wins (seed 004 sets one), and aws ecr get-login fails
// saying why.
func TestBuildWithoutRegistry(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const spec = `version: 0.2
env:
  variables: {AWS_ACCOUNT_ID: '341546619470'}
phases:
  build:
    commands:
      - echo "account=$AWS_ACCOUNT_ID region=$AWS_DEFAULT_REGION uri=${REPOSITORY_URI-unset}"
      - aws ecr get-login
`
	res, log, _ := runBuild(t, spec, nil, Options{AWSCLI: self})
	if res.Succeeded {
		t.Error("aws ecr get-login succeeded without a registry")
	}
	for _, want := range []string{"account=341546619470 region=local uri=unset", "this build has no registry credential"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestPrivilegedBuildInADeepWorkspace: the Docker filter's socket works
// for a workspace whose path is longer than a unix socket's may be (a
// long app name deep in the data directory).
func TestPrivilegedBuildInADeepWorkspace(t *testing.T) {
	sb := sandboxtest.Full(t)
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		if os.Getenv("CUTOVER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine: %v", err)
		}
		t.Skipf("no Docker Engine: %v", err)
	}
	src := filepath.Join(t.TempDir(), "data", "pipelines", strings.Repeat("a-long-app-name", 4), "execution-1", "src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	const spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - docker version --format 'engine {{.Server.Version}}'\n"
	res, log, _ := runBuild(t, spec, nil, Options{SrcDir: src, Sandbox: sb, Docker: "/var/run/docker.sock"})
	if !res.Succeeded || !strings.Contains(log, "engine ") {
		t.Fatalf("a privileged build in %s (%d bytes) failed: %+v", src, len(src), res)
	}
}

// TestLocalBuildKeepsTheUsersAWS: a build without cutover's aws or a
// registry (`cutover build`) sets no AWS variables, so the user's own AWS
// CLI configuration applies.
func TestLocalBuildKeepsTheUsersAWS(t *testing.T) {
	const spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"region=${AWS_DEFAULT_REGION-unset} account=${AWS_ACCOUNT_ID-unset}\"\n"
	_, log, _ := runBuild(t, spec, nil, Options{})
	if !strings.Contains(log, "region=unset account=unset") {
		t.Error("a local build has AWS variables set")
	}
}
