package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/pipeline/build"
	"github.com/cutover/cutover/internal/pipeline/git"
	"github.com/cutover/cutover/internal/sandbox"
	"github.com/cutover/cutover/internal/store"
)

// Deployer is the part of the deployment controller the Deploy stage
// uses (*deploy.Controller implements it).
type Deployer interface {
	Deploy(ctx context.Context, app string, spec deploy.RevisionSpec) (store.Deployment, error)
	Wait(ctx context.Context, deploymentID string) (store.Deployment, error)
}

// ImageBuilder builds a Docker image from a directory with a Dockerfile
// (DockerImages implements it with the Docker Engine API).
type ImageBuilder interface {
	BuildImage(ctx context.Context, contextDir, dockerfile, tag string, log io.Writer) error
}

// Options are a Pipeline's dependencies.
type Options struct {
	Store    *store.Store
	Deployer Deployer
	// Images builds images for apps on the docker runtime; nil refuses
	// their Deploy stage with a clear error.
	Images ImageBuilder
	// DataDir holds the pipeline's files:
	//
	//	git/<app>.git                   the built-in git remote
	//	pipelines/<app>/cache           the buildspec's cache paths
	//	pipelines/<app>/<execution>/    workspace (src, artifacts) and execution.log
	//	releases/<app>/<digest>         release directories (shared with the daemon)
	DataDir string
	Logger  *slog.Logger
	// CheckPushToken, when set, also accepts an API token as the password
	// of a push; the app's pipeline secret is always accepted.
	CheckPushToken func(ctx context.Context, token string) bool
	// BuildEnv is added to every build's environment (as a StartBuild
	// environment override).
	BuildEnv map[string]string
	// SecretsFile, when set, holds the values of buildspecs'
	// env.parameter-store and env.secrets-manager references (see
	// build.LoadSecrets); it is read at each build.
	SecretsFile string
	// GitBackend is git-http-backend's path; default git.DefaultBackend.
	GitBackend string
	// KeepWorkspaces is how many ended executions per app keep their
	// workspace; default 3. Logs are always kept.
	KeepWorkspaces int
	// Sandbox runs the builds (see package sandbox); nil runs them
	// unconfined, and each build's log says so.
	Sandbox *sandbox.Sandbox
	// BuildRegistry, when set, mints a build's credential for the app's
	// repository in the built-in registry, valid for ttl or until the
	// returned revoke is called (at the build's end).
	BuildRegistry func(app string, ttl time.Duration) (reg build.Registry, revoke func(), err error)
	// AWSCLI is the executable builds run as aws (build.Options.AWSCLI):
	// cutover's own; "" gives builds no aws command.
	AWSCLI string
	// Alarms evaluates the apps' alarms and rolls back for the Deploy
	// stage's conditions (conditions.go); nil: those conditions fail.
	Alarms AlarmController
	// Destroy destroys an app (server.Destroy: tasks drained and
	// stopped, releases removed); preview apps are torn down with it.
	// nil: preview apps are never destroyed.
	Destroy func(ctx context.Context, app string) error
}

// Errors of the methods below; test with errors.Is.
var (
	// ErrNotRunning: Run has not started yet, or has returned.
	ErrNotRunning = errors.New("the pipeline is not running")
	// ErrNotActive: the execution has ended, or is not run by this
	// cutover.
	ErrNotActive = errors.New("execution is not active")
	// ErrNotWaiting: the execution is not waiting for an approval.
	ErrNotWaiting = errors.New("execution is not waiting for an approval")
)

// Pipeline runs the apps' pipeline executions. Create it with New, serve
// Handler, and Run it.
type Pipeline struct {
	store    *store.Store
	deployer Deployer
	images   ImageBuilder
	dataDir  string
	log      *slog.Logger
	checkTok func(ctx context.Context, token string) bool
	buildEnv map[string]string
	secrets  string
	keep     int
	sandbox  *sandbox.Sandbox
	registry func(app string, ttl time.Duration) (build.Registry, func(), error)
	awsCLI   string
	alarms   AlarmController
	destroy  func(ctx context.Context, app string) error
	git      *git.Server

	mu      sync.Mutex
	ctx     context.Context // Run's; nil when not running
	wg      sync.WaitGroup  // executions and pollers under ctx
	lines   map[string]*line
	started chan struct{}
}

// New returns a Pipeline. It starts nothing until Run.
func New(opts Options) *Pipeline {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	keep := opts.KeepWorkspaces
	if keep <= 0 {
		keep = 3
	}
	p := &Pipeline{
		store:    opts.Store,
		deployer: opts.Deployer,
		images:   opts.Images,
		dataDir:  opts.DataDir,
		log:      log,
		checkTok: opts.CheckPushToken,
		buildEnv: opts.BuildEnv,
		secrets:  opts.SecretsFile,
		keep:     keep,
		sandbox:  opts.Sandbox,
		registry: opts.BuildRegistry,
		awsCLI:   opts.AWSCLI,
		alarms:   opts.Alarms,
		destroy:  opts.Destroy,
		lines:    make(map[string]*line),
		started:  make(chan struct{}),
	}
	p.git = git.NewServer(git.ServerOptions{
		Root:      filepath.Join(opts.DataDir, "git"),
		Prefix:    "/git",
		Backend:   opts.GitBackend,
		Authorize: p.authorizePush,
		Open:      p.openRepo,
		Pushed:    p.pushed,
		Logger:    log,
	})
	return p
}

// Handler serves the built-in git remote at /git/<app>.git and the
// webhook endpoint at POST /hooks/<app>. Both authenticate on their own
// (the app's pipeline secret), so the handler can face the network.
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/git/", p.git)
	mux.HandleFunc("POST /hooks/{app}", p.serveWebhook)
	return mux
}

// Started is closed once Run has cleaned up after a previous cutover and
// accepts executions.
func (p *Pipeline) Started() <-chan struct{} { return p.started }

// Run marks executions a previous cutover left running as Failed (their
// builds died with it), starts the pollers, and runs executions until ctx
// ends. Then it stops the executions in flight and returns once they
// have; a deployment one of them started goes on, run by the controller.
func (p *Pipeline) Run(ctx context.Context) error {
	orphans, err := p.store.ListExecutions(ctx, store.ExecutionFilter{Active: true})
	if err != nil {
		return fmt.Errorf("starting the pipeline: %w", err)
	}
	for _, e := range orphans {
		_, err := p.store.UpdateExecution(ctx, e.ID, func(e *store.Execution) error {
			e.Status, e.Error = store.ExecutionFailed, "cutover stopped during the execution"
			for i := range e.Stages {
				switch e.Stages[i].Status {
				case store.StageInProgress:
					e.Stages[i].Status, e.Stages[i].EndedAt = store.StageFailed, p.now()
				case store.StagePending:
					e.Stages[i].Status = store.StageSkipped
				}
				skipConditions(&e.Stages[i])
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("starting the pipeline: %w", err)
		}
	}
	apps, err := p.store.ListApps(ctx)
	if err != nil {
		return fmt.Errorf("starting the pipeline: %w", err)
	}

	p.mu.Lock()
	p.ctx = ctx
	for _, a := range apps {
		if s, err := p.settings(ctx, a.Name); err == nil && s.PollInterval > 0 {
			p.startPollerLocked(a.Name, s.PollInterval)
		}
	}
	p.resumeTeardowns(ctx)
	p.wg.Go(func() { p.expireLoop(ctx) })
	p.mu.Unlock()
	close(p.started)

	<-ctx.Done()
	p.mu.Lock()
	p.ctx = nil // no new executions from here on
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Get returns an execution.
func (p *Pipeline) Get(ctx context.Context, id string) (store.Execution, error) {
	return p.store.GetExecution(ctx, id)
}

// List returns the app's executions, newest first; limit 0 means all.
func (p *Pipeline) List(ctx context.Context, app string, limit int) ([]store.Execution, error) {
	return p.store.ListExecutions(ctx, store.ExecutionFilter{App: app, Limit: limit})
}

// LogPath is the file an execution's log is stored in.
func (p *Pipeline) LogPath(app, executionID string) string {
	return filepath.Join(p.execDir(app, executionID), "execution.log")
}

func (p *Pipeline) appDir(app string) string {
	return filepath.Join(p.dataDir, "pipelines", app)
}

func (p *Pipeline) execDir(app, id string) string {
	return filepath.Join(p.appDir(app), id)
}

func (p *Pipeline) repoDir(app string) string {
	return filepath.Join(p.dataDir, "git", app+".git")
}

// appConfig returns the app's configuration as the controller stored it.
func (p *Pipeline) appConfig(ctx context.Context, app string) (config.App, error) {
	if pv, err := p.store.GetPreview(ctx, app); err == nil {
		return p.previewAppConfig(ctx, pv)
	}
	a, err := p.store.GetApp(ctx, app)
	if err != nil {
		return config.App{}, err
	}
	var cfg config.App
	if len(a.Spec) == 0 {
		return config.App{}, fmt.Errorf("app %s has no configuration yet: deploy it once with `cutover up`", app)
	}
	if err := json.Unmarshal(a.Spec, &cfg); err != nil {
		return config.App{}, fmt.Errorf("decoding the configuration of app %s: %w", app, err)
	}
	// The pipeline's branch: the setting, else cutover.yaml's.
	set, err := p.settings(ctx, app)
	if err != nil {
		return config.App{}, err
	}
	cfg.Source.Branch = cmp.Or(set.Branch, cfg.Source.Branch, "main")
	if cfg.Build.Spec == "" {
		cfg.Build.Spec = "buildspec.yml"
	}
	return cfg, nil
}

// sourceRepo resolves the app's configured source: a URL as it is, a
// path against the app's directory.
func sourceRepo(cfg config.App) string {
	repo := cfg.Source.Repo
	if repo == "" {
		repo = "."
	}
	if isURL(repo) || filepath.IsAbs(repo) {
		return repo
	}
	return filepath.Join(cfg.Dir, repo)
}

func isURL(s string) bool {
	for _, prefix := range []string{"http://", "https://", "ssh://", "git://", "file://", "git@"} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// removeOldWorkspaces deletes the workspaces of the app's ended
// executions but the newest p.keep ones.
func (p *Pipeline) removeOldWorkspaces(ctx context.Context, app string) {
	es, err := p.store.ListExecutions(ctx, store.ExecutionFilter{App: app})
	if err != nil {
		return
	}
	kept := 0
	for _, e := range es {
		if e.Active() {
			continue
		}
		if kept < p.keep {
			kept++
			continue
		}
		for _, sub := range []string{"src", "artifacts"} {
			os.RemoveAll(filepath.Join(p.execDir(app, e.ID), sub))
		}
	}
}
