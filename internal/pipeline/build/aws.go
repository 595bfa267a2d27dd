package build

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/awscli"
	"github.com/cutover/cutover/internal/sandbox"
)

// The AWS identity of every build, fixed, as a CodeBuild build has its
// project's region and account: docs/buildspec.md lists them.
const (
	Region    = "local"
	AccountID = "000000000000"
	// AWSBin is the directory that holds the build's aws in a sandbox: a
	// directory of its own, since the system directories are read-only.
	AWSBin = "/cutover/bin"
)

// awsEnv adds to env, the build's environment as environ made it, what a
// CodeBuild build with an ECR repository has. AWS_DEFAULT_REGION,
// AWS_REGION, AWS_ACCOUNT_ID (builds with cutover's aws or a registry:
// a local build keeps the user's own AWS configuration), REPOSITORY_URI
// and, for the Docker filter, DOCKER_BUILDKIT=0 are defaults the
// buildspec may override (none of them comes from cutover's own
// environment). The registry credential cannot be overridden, and awsDir,
// when set, goes first on PATH.
func awsEnv(env []string, opts Options, awsDir string) []string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	defaults := map[string]string{}
	if opts.AWSCLI != "" || opts.Registry != nil {
		defaults = map[string]string{"AWS_DEFAULT_REGION": Region, "AWS_REGION": Region, "AWS_ACCOUNT_ID": AccountID}
	}
	if opts.Docker != "" {
		defaults["DOCKER_BUILDKIT"] = "0"
	}
	if r := opts.Registry; r != nil {
		defaults["REPOSITORY_URI"] = r.URI()
		m[awscli.EnvRegistry], m[awscli.EnvPassword] = r.Host, r.Password
	}
	for k, v := range defaults {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	if awsDir != "" {
		m["PATH"] = strings.TrimSuffix(awsDir+":"+m["PATH"], ":")
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// maskedValues are the values the log hides: the secret variables' and
// the registry credential.
func maskedValues(secrets map[string]string, r *Registry) map[string]string {
	if r == nil || r.Password == "" {
		return secrets
	}
	out := map[string]string{awscli.EnvPassword: r.Password}
	for k, v := range secrets {
		out[k] = v
	}
	return out
}

// prepareAWS gives the build its aws command: Options.AWSCLI bound at
// AWSBin/aws in a sandbox (see wrap), or linked as aws in a directory of
// its own outside one. It sets b.awsDir, the directory to put first on
// PATH.
func (b *builder) prepareAWS() error {
	switch {
	case b.opts.AWSCLI == "":
		return nil
	case b.view.scratch != "":
		b.awsDir = AWSBin
		return nil
	}
	dir, err := os.MkdirTemp("", "cutover-aws-")
	if err != nil {
		return fmt.Errorf("making the build's aws command: %w", err)
	}
	b.awsDir, b.awsLinkDir = dir, dir
	if err := os.Symlink(b.opts.AWSCLI, filepath.Join(dir, "aws")); err != nil {
		return fmt.Errorf("making the build's aws command: %w", err)
	}
	return nil
}

// awsBind is the sandbox's bind of the aws command, when it has one.
func (b *builder) awsBind() []sandbox.Bind {
	if b.awsDir != AWSBin {
		return nil
	}
	return []sandbox.Bind{{Host: b.opts.AWSCLI, Path: AWSBin + "/aws"}}
}

func (b *builder) removeAWS() {
	if b.awsLinkDir != "" {
		os.RemoveAll(b.awsLinkDir)
	}
}
