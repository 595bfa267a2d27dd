package build

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox"
)

// environ returns the build's environment. Later sources win, as in
// CodeBuild where a StartBuild override beats the buildspec: the few
// variables of cutover's environment that locate tools and the locale
// (runtime.InheritedEnv; never cutover's credentials or other apps'
// secrets), then env.variables and the secret
// variables of the buildspec, then opts.Env, then the built-in
// CODEBUILD_* variables, which cannot be overridden. Values are literal:
// "$PATH:/x" is not expanded. In a sandbox (home not "") the build's
// HOME is home, TMPDIR is /tmp, and cutover's USER and LOGNAME are left
// out: they are not the build's.
func environ(spec *config.Buildspec, opts Options, secrets map[string]string, start time.Time, succeeding bool, home string) []string {
	inherited := runtime.InheritedEnv(os.Environ())
	if home != "" {
		inherited = sandbox.Environ(inherited, home)
	}
	env := map[string]string{}
	for _, kv := range inherited {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range spec.Env.Variables {
		env[k] = v
	}
	for k, v := range secrets {
		env[k] = v
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	env["CODEBUILD_BUILD_ID"] = opts.BuildID
	env["CODEBUILD_BUILD_NUMBER"] = strconv.Itoa(opts.BuildNumber)
	env["CODEBUILD_SRC_DIR"] = opts.SrcDir
	env["CODEBUILD_START_TIME"] = strconv.FormatInt(start.UnixMilli(), 10)
	env["CODEBUILD_INITIATOR"] = opts.Initiator
	env["CODEBUILD_BUILD_SUCCEEDING"] = "1"
	if !succeeding {
		env["CODEBUILD_BUILD_SUCCEEDING"] = "0"
	}
	if opts.SourceVersion != "" {
		env["CODEBUILD_SOURCE_VERSION"] = opts.SourceVersion
		env["CODEBUILD_RESOLVED_SOURCE_VERSION"] = opts.SourceVersion
	} else {
		delete(env, "CODEBUILD_SOURCE_VERSION")
		delete(env, "CODEBUILD_RESOLVED_SOURCE_VERSION")
	}
	env["CUTOVER_BUILD"] = "1"

	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
