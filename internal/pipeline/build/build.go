// Package build runs a CodeBuild buildspec.yml (version 0.2) on this
// machine, the way CodeBuild runs it in its build container.
//
// One shell process runs the whole build, so variables, the working
// directory and exported variables set by one command are seen by the
// next, across phases. The phases run in CodeBuild's order and follow its
// transitions after a failure: a failing install or pre_build phase skips
// the phases after it, a failing build phase still runs post_build (with
// CODEBUILD_BUILD_SUCCEEDING=0), and a phase's on-failure (ABORT or
// CONTINUE) overrides both. The artifacts are then copied to a directory,
// even after a failed build phase, and the cache is saved after a
// successful build.
//
// Every process the build starts belongs to the shell's process group,
// which is killed when the build ends, times out or is stopped.
//
// cutover does not call AWS: the variables a buildspec takes from
// Parameter Store or Secrets Manager get their values from
// Options.Secrets, and those values are masked in the build log.
package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/sandbox"
)

// Statuses of a build and of its phases, CodeBuild's words. SKIPPED is
// cutover's: CodeBuild leaves a phase that did not run out of the list.
const (
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusStopped   = "STOPPED"
	StatusSkipped   = "SKIPPED"
)

// PhaseUploadArtifacts is the name of the phase that copies artifacts.
const PhaseUploadArtifacts = "UPLOAD_ARTIFACTS"

// Options are where and how a build runs.
type Options struct {
	// SrcDir is the checkout the build runs in (CODEBUILD_SRC_DIR); the
	// build writes into it. Required, absolute.
	SrcDir string
	// ArtifactsDir receives the artifacts. Required when the buildspec
	// has artifacts; it must not exist or be empty.
	ArtifactsDir string
	// CacheDir holds the cache paths between builds; "" disables the cache.
	CacheDir string
	// Env overrides the buildspec's env.variables, as a StartBuild
	// override does. The environment of the cutover process is the base.
	Env map[string]string
	// Secrets holds the values of the buildspec's env.parameter-store and
	// env.secrets-manager variables, by the reference the buildspec gives
	// (see LoadSecrets). A missing one stops the build before it starts.
	// Secret values are masked in Log.
	Secrets map[string]string
	// SecretEnv are variables set as the buildspec's secret ones are,
	// their values masked in Log: an app's secret build-time config vars
	// (`cutover env set --build --secret`).
	SecretEnv map[string]string
	// Log receives the commands' output and CodeBuild-style phase lines.
	Log io.Writer
	// Timeout bounds the whole build; 0 means no limit but ctx's.
	Timeout time.Duration
	// BuildID, BuildNumber, SourceVersion and Initiator are the values of
	// CODEBUILD_BUILD_ID (default "cutover-local:<random>"),
	// CODEBUILD_BUILD_NUMBER (default 1), CODEBUILD_SOURCE_VERSION and
	// CODEBUILD_RESOLVED_SOURCE_VERSION (unset when empty) and
	// CODEBUILD_INITIATOR (default the user running cutover).
	BuildID       string
	BuildNumber   int
	SourceVersion string
	Initiator     string
	// Sandbox isolates the build (see package sandbox): its commands see
	// SrcDir, a home (/root) and a /tmp of their own, and the absolute
	// cache paths as their own directories, and nothing of cutover's.
	// nil, or a sandbox in ModeOff, runs the build unconfined as cutover's
	// user, and the log says so.
	Sandbox *sandbox.Sandbox
	// Docker, when set, is the unix socket of the Docker Engine that a
	// sandboxed build reaches at /var/run/docker.sock through
	// sandbox.DockerFilter (CodeBuild's privileged mode): image builds,
	// tags, pulls and pushes only.
	Docker string
	// Registry, when set, is the app's repository in cutover's built-in
	// registry, which stands to the build where an ECR repository stands
	// to a CodeBuild build: REPOSITORY_URI names it, and the build's aws
	// command logs in to it with Registry.Password (masked in Log).
	Registry *Registry
	// AWSCLI is an executable that acts as `aws` (package awscli) when
	// called by that name: cutover itself. The build finds it on PATH as
	// aws, at AWSBin in a sandbox. "" gives the build no aws command.
	AWSCLI string
}

// Registry is a build's repository in the built-in registry.
type Registry struct {
	Host       string // host:port, as the Docker Engine reaches it
	Repository string // the app's repository
	Password   string // a credential for Repository only, valid while the build runs
}

// URI is the repository as an image name without a tag: host:port/repo.
func (r Registry) URI() string { return r.Host + "/" + r.Repository }

// PhaseResult is how one phase went.
type PhaseResult struct {
	Name          string    `json:"name"`   // INSTALL, PRE_BUILD, BUILD, POST_BUILD or UPLOAD_ARTIFACTS
	Status        string    `json:"status"` // SUCCEEDED, FAILED, TIMED_OUT, STOPPED or SKIPPED
	Started       time.Time `json:"started,omitzero"`
	Ended         time.Time `json:"ended,omitzero"`
	FailedCommand string    `json:"failed_command,omitempty"` // the first command that failed
	ExitCode      int       `json:"exit_code,omitempty"`      // its exit status
	Message       string    `json:"message,omitempty"`        // why the phase failed
}

// Result is how a build went.
type Result struct {
	Status    string        `json:"status"` // SUCCEEDED, FAILED, TIMED_OUT or STOPPED
	Succeeded bool          `json:"succeeded"`
	Phases    []PhaseResult `json:"phases"`
	// Exported holds env.exported-variables as they were at the end of the
	// last phase that ran; a variable that was not set is left out.
	Exported map[string]string `json:"exported"`
	// Artifacts are the files written to ArtifactsDir, relative, sorted.
	Artifacts []string      `json:"artifacts"`
	Duration  time.Duration `json:"duration_ns"`
}

// Run runs spec in opts.SrcDir. A build that fails is a Result with
// Succeeded false; the error is for a build that could not be started
// (bad options, a run-as user cutover cannot switch to, no shell).
func Run(ctx context.Context, spec *config.Buildspec, opts Options) (Result, error) {
	opts, err := checkOptions(spec, opts)
	if err != nil {
		return Result{}, err
	}
	secrets, err := secretVariables(spec.Env, opts.Secrets)
	if err != nil {
		return Result{}, err
	}
	maps.Copy(secrets, opts.SecretEnv)
	b := &builder{spec: spec, opts: opts, secrets: secrets, log: &logger{w: opts.Log, mask: masker(maskedValues(secrets, opts.Registry))}, start: time.Now()}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	return b.run(ctx)
}

func checkOptions(spec *config.Buildspec, opts Options) (Options, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if !filepath.IsAbs(opts.SrcDir) {
		return opts, fmt.Errorf("build source directory %q is not an absolute path", opts.SrcDir)
	}
	if fi, err := os.Stat(opts.SrcDir); err != nil || !fi.IsDir() {
		return opts, fmt.Errorf("build source directory %s is not a directory", opts.SrcDir)
	}
	if spec.Artifacts != nil {
		if !filepath.IsAbs(opts.ArtifactsDir) {
			return opts, fmt.Errorf("the buildspec has artifacts: an absolute artifacts directory is needed, not %q", opts.ArtifactsDir)
		}
		opts.ArtifactsDir = filepath.Clean(opts.ArtifactsDir)
		entries, err := os.ReadDir(opts.ArtifactsDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return opts, fmt.Errorf("checking the artifacts directory: %w", err)
		}
		if len(entries) > 0 {
			return opts, fmt.Errorf("artifacts directory %s is not empty", opts.ArtifactsDir)
		}
	}
	if opts.CacheDir != "" && !filepath.IsAbs(opts.CacheDir) {
		return opts, fmt.Errorf("cache directory %q is not an absolute path", opts.CacheDir)
	}
	me, err := user.Current()
	if err != nil {
		return opts, fmt.Errorf("looking up the current user: %w", err)
	}
	runAs := []string{spec.RunAs}
	for _, p := range spec.Phases {
		runAs = append(runAs, p.RunAs)
	}
	for _, u := range runAs {
		if u != "" && u != me.Username {
			return opts, fmt.Errorf("run-as %s: cutover runs build commands as the user running it (%s) and cannot switch users", u, me.Username)
		}
	}
	if opts.BuildID == "" {
		id := make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return opts, err
		}
		opts.BuildID = "cutover-local:" + hex.EncodeToString(id)
	}
	if opts.BuildNumber == 0 {
		opts.BuildNumber = 1
	}
	if opts.Initiator == "" {
		opts.Initiator = me.Username
	}
	return opts, nil
}

// builder is one build in progress.
type builder struct {
	spec    *config.Buildspec
	opts    Options
	secrets map[string]string // secret variables and their values
	log     *logger
	start   time.Time

	view      view
	binds     []sandbox.Bind // what the sandbox binds besides SrcDir
	docker    string         // the build's Docker filter socket, when it has one
	dockerDir string         // the directory of that socket
	// awsDir is the directory of the build's aws command as the build
	// sees it; awsLinkDir the one made for it outside a sandbox.
	awsDir, awsLinkDir string

	sh *shell // nil when no shell is running
	// succeeding is false once a phase failed; shellSucceeding is the
	// CODEBUILD_BUILD_SUCCEEDING the running shell has.
	succeeding, shellSucceeding bool
}

func (b *builder) run(ctx context.Context) (Result, error) {
	res := Result{Status: StatusSucceeded, Exported: map[string]string{}}
	for _, w := range b.spec.Warnings {
		b.log.printf("Warning: %s", w)
	}
	defer b.cleanup()
	dockerCtx, stopDocker := context.WithCancel(ctx)
	defer stopDocker()
	paths, err := b.prepare(dockerCtx)
	if err != nil {
		return res, err
	}

	b.succeeding = true
	if err := b.startShell(); err != nil {
		return res, err
	}
	defer b.stopShell()

	buildRan := b.phases(ctx, &res)
	if err := ctx.Err(); err != nil {
		// Also when the time ran out right after the last command.
		res.Status = interruptedStatus(err)
	} else {
		res.Exported = b.exports(ctx)
	}
	b.stopShell()

	if b.spec.Artifacts != nil && buildRan && ctx.Err() == nil {
		pr, files := b.uploadArtifacts()
		res.Phases = append(res.Phases, pr)
		res.Artifacts = files
		if pr.Status != StatusSucceeded && res.Status == StatusSucceeded {
			res.Status = StatusFailed
		}
	}
	res.Succeeded = res.Status == StatusSucceeded
	if res.Succeeded && len(paths) > 0 {
		saveCache(b.opts.CacheDir, paths, b.log)
	}
	res.Duration = time.Since(b.start)
	return res, nil
}

// prepare makes what the build runs in: the sandbox's directories, the
// aws command, the restored cache, and the Docker filter, served until
// ctx ends. cleanup removes them.
func (b *builder) prepare(ctx context.Context) ([]cachePath, error) {
	if err := b.prepareSandbox(); err != nil {
		return nil, err
	}
	if err := b.prepareAWS(); err != nil {
		return nil, err
	}
	paths := b.cachePaths()
	if len(paths) > 0 {
		restoreCache(b.opts.CacheDir, paths, b.log)
	}
	if err := b.giveToSandbox(); err != nil {
		return nil, err
	}
	return paths, b.serveDocker(ctx)
}

func (b *builder) cleanup() {
	b.removeAWS()
	b.removeScratch()
}

// phases runs the phases in order, following CodeBuild's rules for what
// runs after a failure, and says whether the build phase ran.
func (b *builder) phases(ctx context.Context, res *Result) (buildRan bool) {
	stop := false
	for _, p := range b.spec.Phases {
		name := strings.ToUpper(p.Name)
		if stop {
			res.Phases = append(res.Phases, PhaseResult{Name: name, Status: StatusSkipped})
			continue
		}
		pr := b.phase(ctx, p)
		res.Phases = append(res.Phases, pr)
		buildRan = buildRan || p.Name == config.PhaseBuild
		switch pr.Status {
		case StatusTimedOut, StatusStopped:
			stop, res.Status = true, pr.Status
		case StatusFailed:
			b.succeeding, res.Status = false, StatusFailed
			switch {
			case p.OnFailure == config.OnFailureContinue:
			case p.OnFailure == config.OnFailureAbort:
				stop = true
			case p.Name == config.PhaseBuild:
				// post_build runs after a failed build phase.
			default:
				stop = true
			}
		}
	}
	return buildRan
}

// phase runs one phase's commands, then its finally commands.
func (b *builder) phase(ctx context.Context, p config.BuildPhase) PhaseResult {
	pr := PhaseResult{Name: strings.ToUpper(p.Name), Status: StatusSucceeded, Started: time.Now()}
	b.log.printf("Entering phase %s", pr.Name)
	for _, rt := range sortedKeys(p.RuntimeVersions) {
		b.log.printf("Runtime %s %s is not installed by cutover; using the %s found on PATH", rt, p.RuntimeVersions[rt], rt)
	}
	if !b.succeeding && b.sh != nil && b.shellSucceeding {
		b.exec(ctx, "export CODEBUILD_BUILD_SUCCEEDING=0")
		b.shellSucceeding = false
	}
	for _, c := range p.Commands {
		if !b.command(ctx, &pr, c) {
			break
		}
	}
	if pr.Status == StatusSucceeded || pr.Status == StatusFailed {
		for _, c := range p.Finally {
			if !b.command(ctx, &pr, c) {
				break
			}
		}
	}
	pr.Ended = time.Now()
	b.log.printf("Phase complete: %s State: %s", pr.Name, pr.Status)
	if pr.Message != "" {
		b.log.printf("Phase context status code: %s Message: %s", contextCode(pr.Status), pr.Message)
	}
	return pr
}

// command runs one command of a phase and records its failure in pr,
// with secret values masked.
func (b *builder) command(ctx context.Context, pr *PhaseResult, command string) bool {
	c := command
	if b.log.mask != nil {
		c = b.log.mask.Replace(command)
	}
	if !b.ensureShell() {
		if pr.FailedCommand == "" {
			pr.FailedCommand, pr.ExitCode = c, -1
			pr.Message = "Error while executing command: " + c + ". Reason: the shell could not be started"
		}
		pr.Status = StatusFailed
		return false
	}
	b.log.printf("Running command %s", c)
	rc, err := b.exec(ctx, command)
	switch {
	case err != nil:
		pr.Status, pr.Message = interruptedStatus(err), "build stopped"
		if pr.Status == StatusTimedOut {
			pr.Message = "build timed out"
		}
		if pr.FailedCommand == "" {
			pr.FailedCommand, pr.ExitCode = c, rc
		}
		b.log.printf("%s while running: %s", pr.Message, c)
		return false
	case rc != 0:
		b.log.printf("Command did not exit successfully %s exit status %d", c, rc)
		if pr.FailedCommand == "" {
			pr.FailedCommand, pr.ExitCode = c, rc
			pr.Message = fmt.Sprintf("Error while executing command: %s. Reason: exit status %d", c, rc)
		}
		pr.Status = StatusFailed
		return false
	}
	return true
}

// exec runs a script in the build's shell and returns its exit status.
// When the script ends the shell, the next one starts a new shell; the
// error is only ever ctx's.
func (b *builder) exec(ctx context.Context, script string) (int, error) {
	if !b.ensureShell() {
		return -1, nil
	}
	rc, err := b.sh.run(ctx, script)
	if errors.Is(err, errShellExited) {
		b.log.printf("The shell exited with status %d", rc)
		b.stopShell()
		return rc, nil
	}
	return rc, err
}

// ensureShell starts a new shell if a command ended the last one.
func (b *builder) ensureShell() bool {
	if b.sh != nil {
		return true
	}
	b.log.printf("Starting a new shell: variables and the working directory set by earlier commands are lost")
	if err := b.startShell(); err != nil {
		b.log.printf("%v", err)
		return false
	}
	return true
}

func (b *builder) startShell() error {
	home := ""
	if b.view.scratch != "" {
		home = b.view.home
	}
	env := awsEnv(environ(b.spec, b.opts, b.secrets, b.start, b.succeeding, home), b.opts, b.awsDir)
	sh, err := startShell(b.spec.Env.Shell, b.opts.SrcDir, env, b.log, b.wrap)
	if err != nil {
		return fmt.Errorf("starting the build shell: %w", err)
	}
	b.sh, b.shellSucceeding = sh, b.succeeding
	return nil
}

func (b *builder) stopShell() {
	if b.sh != nil {
		b.sh.close()
		b.sh = nil
	}
}

// exports reads env.exported-variables from the shell. A value that
// holds a secret value is kept with it masked, as in the log: exported
// variables go into the execution record, which every read token sees.
func (b *builder) exports(ctx context.Context) map[string]string {
	names := b.spec.Env.ExportedVariables
	out := map[string]string{}
	if len(names) == 0 {
		return out
	}
	if b.sh == nil {
		b.log.printf("Exported variables are lost: the shell exited")
		return out
	}
	hostDir, dir, err := b.exportsDir()
	if err != nil {
		b.log.printf("Reading exported variables: %v", err)
		return out
	}
	defer os.RemoveAll(hostDir)
	root, err := os.OpenRoot(hostDir)
	if err != nil {
		b.log.printf("Reading exported variables: %v", err)
		return out
	}
	defer root.Close()
	var script strings.Builder
	for _, name := range names {
		// Names are checked identifiers, safe to write into the script.
		fmt.Fprintf(&script, "if [ \"${%s+set}\" = set ]; then command printf '%%s' \"$%s\" >%s; fi\n",
			name, name, quote(filepath.Join(dir, name)))
	}
	if rc, err := b.exec(ctx, script.String()); err != nil || rc != 0 {
		b.log.printf("Reading exported variables failed (exit status %d)", rc)
		return out
	}
	for _, name := range names {
		data, err := readRegular(root, name)
		if err != nil {
			b.log.printf("Exported variable %s is not set", name)
			continue
		}
		out[name] = b.maskExported(name, string(data))
	}
	return out
}

// maskExported returns the exported value with the secret values in it
// masked, and says so in the log.
func (b *builder) maskExported(name, value string) string {
	if b.log.mask == nil {
		return value
	}
	masked := b.log.mask.Replace(value)
	if masked != value {
		b.log.printf("Exported variable %s holds a secret value: it is exported masked", name)
	}
	return masked
}

func (b *builder) uploadArtifacts() (PhaseResult, []string) {
	pr := PhaseResult{Name: PhaseUploadArtifacts, Status: StatusSucceeded, Started: time.Now()}
	b.log.printf("Entering phase %s", pr.Name)
	files, err := collectArtifacts(b.opts.SrcDir, b.spec.Artifacts, b.opts.ArtifactsDir)
	if err != nil {
		pr.Status, pr.Message = StatusFailed, err.Error()
	}
	pr.Ended = time.Now()
	b.log.printf("Phase complete: %s State: %s", pr.Name, pr.Status)
	if pr.Message != "" {
		b.log.printf("Phase context status code: %s", pr.Message)
	} else {
		b.log.printf("Wrote %d artifact files to %s", len(files), b.opts.ArtifactsDir)
	}
	return pr, files
}

func (b *builder) cachePaths() []cachePath {
	if b.spec.Cache == nil || b.opts.CacheDir == "" {
		return nil
	}
	var paths []cachePath
	for _, p := range b.spec.Cache.Paths {
		c := b.view.resolveCachePath(p)
		if c.bind != nil {
			b.binds = append(b.binds, *c.bind)
		}
		paths = append(paths, c)
	}
	return paths
}

// interruptedStatus is the status of a build whose context ended.
func interruptedStatus(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return StatusTimedOut
	}
	return StatusStopped
}

func contextCode(status string) string {
	if status == StatusFailed {
		return "COMMAND_EXECUTION_ERROR"
	}
	return status
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
