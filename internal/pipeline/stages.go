package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/pipeline/build"
	"github.com/cutover/cutover/internal/pipeline/git"
	"github.com/cutover/cutover/internal/store"
)

// source checks the commit out into a clean directory and reads the
// configuration to deploy: the commit's cutover.yaml when it has one,
// the app's current configuration otherwise.
func (p *Pipeline) source(ctx context.Context, x *execution, w *workspace) error {
	w.src = filepath.Join(w.dir, "src")
	if err := os.RemoveAll(w.src); err != nil {
		return fmt.Errorf("cleaning the workspace: %w", err)
	}
	ref := cmp.Or(x.ref, "refs/heads/"+x.branch)
	x.log.printf("Fetching %s from %s", cmp.Or(x.commit, ref), x.repo)
	c, err := git.Checkout(ctx, x.repo, ref, x.commit, w.src)
	if err != nil {
		return err
	}
	x.commit = c.SHA
	x.log.printf("Checked out %s: %s", c.SHA, c.Subject)
	w.setVars("SourceVariables", map[string]string{"CommitId": c.SHA, "BranchName": x.branch, "CommitMessage": c.Subject})

	cfg, err := p.appConfig(ctx, x.app)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(w.src, config.AppFile)); err == nil {
		repoCfg, err := config.LoadApp(w.src)
		if err != nil {
			return fmt.Errorf("reading the commit's %s: %w", config.AppFile, err)
		}
		if *repoCfg, err = p.commitConfig(ctx, x.app, *repoCfg); err != nil {
			return err
		}
		for _, warning := range repoCfg.Warnings {
			x.log.printf("%s: %s", config.AppFile, warning)
		}
		// The commit's configuration lives in the workspace: a relative
		// source (".") would point there from now on. Keep pointing at
		// the repository the app was registered with.
		if !isURL(repoCfg.Source.Repo) && !filepath.IsAbs(repoCfg.Source.Repo) {
			repoCfg.Source.Repo = sourceRepo(cfg)
		}
		cfg = *repoCfg
	} else {
		x.log.printf("The commit has no %s: deploying with the app's current configuration", config.AppFile)
		cfg.Service.Release = w.src
	}
	w.cfg = cfg
	w.artifacts = cfg.Service.Release
	if w.artifacts == "" {
		w.artifacts = w.src
	}
	p.update(context.WithoutCancel(ctx), x.id, func(e *store.Execution) {
		e.Commit, e.Message, e.Variables = c.SHA, c.Subject, w.variables()
	})
	w.stageMessage = shortSHA(c.SHA) + " " + c.Subject
	return nil
}

// build runs the commit's buildspec in the checkout. A commit without a
// buildspec has nothing to build: its checkout is what gets deployed.
func (p *Pipeline) build(ctx context.Context, x *execution, w *workspace) error {
	spec, err := readBuildspec(w)
	if errors.Is(err, os.ErrNotExist) {
		x.log.printf("No buildspec in the commit: nothing to build")
		w.stageMessage = "no buildspec: nothing built"
		return nil
	}
	if err != nil {
		return err
	}
	for _, warning := range spec.Warnings {
		x.log.printf("buildspec: %s", warning)
	}
	opts, err := p.buildOptions(x, w)
	if err != nil {
		return err
	}
	if err := p.addBuildVars(ctx, x.app, &opts); err != nil {
		return err
	}
	revoke := p.giveRegistry(x, &opts)
	defer revoke()
	if spec.Artifacts != nil {
		opts.ArtifactsDir = filepath.Join(w.dir, "artifacts")
		if err := os.RemoveAll(opts.ArtifactsDir); err != nil {
			return fmt.Errorf("cleaning the artifacts directory: %w", err)
		}
	}
	res, err := build.Run(ctx, spec, opts)
	if err != nil {
		return fmt.Errorf("starting the build: %w", err)
	}
	x.log.printf("Build phase durations: %s", phaseDurations(res))
	w.setVars("BuildVariables", res.Exported)
	p.update(context.WithoutCancel(ctx), x.id, func(e *store.Execution) { e.Variables = w.variables() })
	if !res.Succeeded {
		return fmt.Errorf("build %s: %s", res.Status, failedPhase(res))
	}
	if spec.Artifacts != nil {
		w.artifacts = opts.ArtifactsDir
	}
	w.stageMessage = fmt.Sprintf("build SUCCEEDED in %s, %d artifacts", res.Duration.Round(1e6), len(res.Artifacts))
	return nil
}

// buildOptions says where and how the execution's build runs.
func (p *Pipeline) buildOptions(x *execution, w *workspace) (build.Options, error) {
	opts := build.Options{
		SrcDir:        w.src,
		CacheDir:      filepath.Join(p.appDir(x.app), "cache"),
		Env:           withWebhookEnv(p.buildEnv, x.event),
		Log:           x.log,
		Timeout:       x.set.BuildTimeout,
		BuildID:       x.app + ":" + x.id,
		BuildNumber:   x.number,
		SourceVersion: x.commit,
		Initiator:     "cutover-pipeline/" + x.trigger,
		Sandbox:       p.sandbox,
	}
	if x.set.Privileged {
		opts.Docker = engineSocket()
	}
	if p.secrets != "" {
		var err error
		if opts.Secrets, err = build.LoadSecrets(p.secrets); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// giveRegistry gives the build its aws command and the app's repository
// in the built-in registry, with a credential minted for this build,
// valid for the build's timeout at most; the function returned revokes
// it, for when the build ends. Without a registry the build still runs:
// REPOSITORY_URI is unset, and aws ecr get-login says why.
func (p *Pipeline) giveRegistry(x *execution, opts *build.Options) (revoke func()) {
	opts.AWSCLI = p.awsCLI
	if p.registry == nil {
		return func() {}
	}
	reg, revoke, err := p.registry(x.app, x.set.BuildTimeout+time.Minute)
	if err != nil {
		x.log.printf("No image registry for this build: %v", err)
		return func() {}
	}
	opts.Registry = &reg
	if opts.Docker != "" {
		x.log.printf("Registry: REPOSITORY_URI=%s; aws ecr get-login logs the Docker Engine in with a credential for this build's repository, revoked when the build ends", reg.URI())
	}
	return revoke
}

// phaseDurations lists how long each phase that ran took, as
// "BUILD=1.234s", for the log and for bench/commit-to-live.sh.
func phaseDurations(res build.Result) string {
	var parts []string
	for _, ph := range res.Phases {
		if ph.Status == build.StatusSkipped || ph.Started.IsZero() {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%.3fs", ph.Name, ph.Ended.Sub(ph.Started).Seconds()))
	}
	return strings.Join(parts, " ")
}

// failedPhase describes the phase that failed a build.
func failedPhase(res build.Result) string {
	for _, ph := range res.Phases {
		if ph.Status == build.StatusSucceeded || ph.Status == build.StatusSkipped {
			continue
		}
		msg := ph.Message
		if msg == "" && ph.FailedCommand != "" {
			msg = fmt.Sprintf("%q exited %d", ph.FailedCommand, ph.ExitCode)
		}
		return strings.TrimSpace(ph.Name + " " + ph.Status + ": " + msg)
	}
	return "no phase failed"
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// readBuildspec reads the commit's buildspec through an os.Root of the
// checkout: a buildspec.yml that is a symlink out of the checkout (to
// /etc/shadow, say) is refused, not read as cutover's user and quoted in
// the pipeline log by a parse error. The error is os.ErrNotExist when
// the commit has no buildspec.
func readBuildspec(w *workspace) (*config.Buildspec, error) {
	name := w.cfg.Build.Spec
	if name == "" {
		name = "buildspec.yml"
	}
	if filepath.IsAbs(name) {
		rel, err := filepath.Rel(w.src, name)
		if err != nil {
			return nil, fmt.Errorf("buildspec %s is outside the checkout", name)
		}
		name = rel
	}
	root, err := os.OpenRoot(w.src)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	data, err := root.ReadFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("reading the buildspec %s: %w", name, err)
	}
	return config.ParseBuildspec(filepath.Join(w.src, name), data)
}

// engineSocket is the Docker Engine's unix socket: DOCKER_HOST's when it
// names one, else the default.
func engineSocket() string {
	if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		return h
	}
	return "/var/run/docker.sock"
}
