// Package server assembles cutover's daemon: the store in a data
// directory, the load balancer, the process runtime, the deployment
// controller and the API on a unix socket. cmd/cutover's `up` command is
// a thin shell around it.
//
// Layout of a data directory:
//
//	cutover.db        the store (SQLite, WAL)
//	cutover.sock      the API (mode 0600)
//	dataplane.sock    the data plane's control socket (mode 0600)
//	dataplane.json    the configuration the data plane serves
//	dataplane.log     the data plane's log
//	tasks/            the process runtime's task state and logs
//	releases/<app>/   immutable release directories, by content digest;
//	                  the newest RetainReleases kept (deploy's releases.go)
//	deployments/      per-deployment files (hook logs)
//
// The load balancer runs as a process of its own (package dataplane),
// which Start finds running or starts; it outlives this daemon. Restarting
// the daemon on the same data directory resumes from the store: running
// tasks are re-adopted, the data plane is given the configuration the
// store implies (it serves on meanwhile), and active deployments carry on.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/dataplane"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/registry"
	"github.com/cutover/cutover/internal/release"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/runtime/docker"
	"github.com/cutover/cutover/internal/runtime/process"
	"github.com/cutover/cutover/internal/runtime/swarm"
	"github.com/cutover/cutover/internal/sandbox"
	"github.com/cutover/cutover/internal/store"
)

// SocketName is the API socket's file name in the data directory.
const SocketName = "cutover.sock"

// Options configure a Server.
type Options struct {
	DataDir string
	Logger  *slog.Logger
	// MetricsAddr, when set, serves Prometheus metrics of the load
	// balancer at http://MetricsAddr/metrics.
	MetricsAddr string
	// API, when API.Addr is set, serves the API on TCP too, with bearer
	// tokens, besides the unix socket; see api.ListenTCP. (`cutover up`
	// sets 127.0.0.1:9190 by default.)
	API api.TCPOptions
	// Executable is the cutover binary that runs the data plane
	// (`cutover dataplane`) and that `cutover upgrade` restarts into;
	// default: this process's executable.
	Executable string
	// InProcessDataPlane runs the data plane inside this process and stops
	// it with the server, for tests that do not need the process boundary.
	InProcessDataPlane bool
	// Version is the running binary's version, for `cutover upgrade`.
	Version string
	// Inherited are the API's listening sockets kept across an upgrade
	// (see InheritedListeners); nil binds them anew.
	Inherited map[string]net.Listener
	// Sandbox says how builds, command hooks and process-runtime tasks
	// are isolated (see package sandbox); the zero value chooses the
	// most isolation this machine allows and says when it is less.
	Sandbox sandbox.Config
	// HTTP bounds the API's and the metrics endpoint's HTTP servers.
	HTTP HTTPLimits
	// ACME chooses the CA of listeners with tls: auto; the zero value is
	// Let's Encrypt.
	ACME acme.Settings
	// TaskLogWriter is the command of the process runtime's log writer
	// (process.Options.LogWriter): cutover's executable and
	// process.LogWriterArg. Empty: process tasks' output has no timestamps.
	TaskLogWriter []string
	// RetainReleases is how many release directories per app are kept
	// (deploy.Options.RetainReleases): 0 is deploy.DefaultRetainReleases,
	// negative keeps all.
	RetainReleases int
}

// Server is a running cutover daemon.
type Server struct {
	dataDir    string
	log        *slog.Logger
	store      *store.Store
	dp         *dataplane.Conn
	inproc     *dataplane.InProcess // nil unless the data plane runs in here
	exe        string
	upgrades   chan struct{} // a value when an upgrade asks the caller to re-exec
	procs      *process.Driver
	images     *docker.Driver    // nil when no Docker Engine answers
	swarm      *swarm.Driver     // nil unless that Engine is a Swarm manager
	driver     *runtime.Dispatch // procs for commands, images for images, swarm for swarm tasks
	sandbox    *sandbox.Sandbox  // builds, hooks and process tasks run in it
	controller *deploy.Controller
	pipeline   *pipeline.Pipeline     // see pipeline.go
	pipeDone   chan struct{}          // closed when the pipeline's Run returns
	registry   *registry.Registry     // nil without a TCP listener or when it cannot open; see registry.go
	grants     *auth.RepositoryGrants // pipeline builds' registry credentials; see registry.go

	apiSrv     *http.Server
	apiTCPSrv  *http.Server
	apiLn      net.Listener // the unix socket
	apiTCPRaw  net.Listener // the TCP socket under any TLS
	inherited  map[string]net.Listener
	instance   string
	version    string
	started    time.Time
	apiAddr    net.Addr
	metricsSrv *http.Server
	httpLimits HTTPLimits
	runDone    chan struct{} // closed when the controller's Run returns
	notifyDone chan struct{} // closed when the notifier stops; see notify.go
	runErr     error
	cancelRun  context.CancelFunc
}

// Start opens the data directory and starts every part. It returns once
// the controller has resumed from the store and the API listens.
func Start(ctx context.Context, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := restrictDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	sb, err := sandbox.New(ctx, opts.Sandbox)
	if err != nil {
		return nil, err
	}
	if sb.Mode() != sandbox.ModeFull {
		log.Warn("builds, hooks and process tasks are not fully sandboxed", "mode", sb.Mode(), "reason", sb.Reason())
	}
	st, err := store.Open(ctx, filepath.Join(opts.DataDir, "cutover.db"))
	if err != nil {
		return nil, err
	}
	procs, owner, err := startProcesses(opts, log, sb)
	if err != nil {
		st.Close()
		return nil, err
	}
	eng := connectEngine(ctx, log, owner)
	s := &Server{
		dataDir: opts.DataDir,
		log:     log,
		store:   st,
		procs:   procs,
		images:  eng.images,
		swarm:   eng.swarm,
		runDone: make(chan struct{}),
		sandbox: sb,
		grants:  auth.NewRepositoryGrants(),
	}
	if err := s.attachDataPlane(ctx, opts); err != nil {
		procs.Close()
		st.Close()
		return nil, err
	}
	s.inherited, s.started, s.upgrades = opts.Inherited, time.Now(), make(chan struct{}, 1)
	s.instance, s.version = newInstanceID(), opts.Version
	s.httpLimits = opts.HTTP.withDefaults()
	s.driver = eng.dispatch(procs)
	s.controller = deploy.New(deploy.Options{
		Store: st, Driver: s.driver, Proxy: acmeRouter{s.dp, opts.ACME}, Logger: log, DataDir: opts.DataDir, Sandbox: sb,
		RetainReleases: opts.RetainReleases,
	})
	s.pipeline = s.newPipeline()
	s.pipeDone = make(chan struct{})
	if err := s.listen(ctx, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// startProcesses starts the process runtime, and returns with it this
// daemon's owner id: containers and services carry it, so that another
// cutover on the same Engine never adopts or stops them.
func startProcesses(opts Options, log *slog.Logger, sb *sandbox.Sandbox) (*process.Driver, string, error) {
	procs, err := process.New(process.Options{
		StateDir:  filepath.Join(opts.DataDir, "tasks"),
		Logger:    log,
		Sandbox:   sb,
		LogWriter: opts.TaskLogWriter,
		// A task that dies this soon is reported as failed to start; later
		// deaths are caught by the scheduler. Kept short: it adds to every
		// deployment.
		StartCheck: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, "", fmt.Errorf("starting the process runtime: %w", err)
	}
	owner, err := ownerID(opts.DataDir)
	if err != nil {
		procs.Close()
		return nil, "", err
	}
	return procs, owner, nil
}

// restrictDataDir makes the data directory the owner's only, whatever
// the umask: it holds the store, the sockets, the logs and the releases.
func restrictDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restricting the data directory: %w", err)
	}
	return nil
}

// engine is what a Docker Engine gives cutover: the docker runtime when
// the Engine answers, the swarm runtime when it is also a Swarm manager,
// and why not otherwise (apps with runtime: docker or swarm then fail
// clearly to start).
type engine struct {
	images              *docker.Driver
	swarm               *swarm.Driver
	imagesErr, swarmErr error
}

func connectEngine(ctx context.Context, log *slog.Logger, owner string) engine {
	var e engine
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	e.images, e.imagesErr = docker.New(dctx, docker.Options{Logger: log, Owner: owner})
	cancel()
	if e.imagesErr != nil {
		log.Debug("docker runtime unavailable", "err", e.imagesErr)
		e.images, e.swarmErr = nil, e.imagesErr
		return e
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	e.swarm, e.swarmErr = swarm.New(sctx, swarm.Options{Logger: log, Owner: owner})
	cancel()
	if e.swarmErr != nil {
		log.Debug("swarm runtime unavailable", "err", e.swarmErr)
		e.swarm = nil
	}
	return e
}

// dispatch is the runtime the controller uses: procs for commands and
// process tasks, the Engine's runtimes for the rest.
func (e engine) dispatch(procs *process.Driver) *runtime.Dispatch {
	d := &runtime.Dispatch{Processes: procs, ImagesErr: e.imagesErr, SwarmErr: e.swarmErr}
	if e.images != nil {
		d.Images = e.images
	}
	if e.swarm != nil {
		d.Swarm = e.swarm
	}
	return d
}

// listen opens the API (and the metrics endpoint, when asked for), then
// starts the controller, the pipeline and the notifier. On an error it
// has closed what Start opened.
func (s *Server) listen(ctx context.Context, opts Options) error {
	notifier, err := s.newNotifier(ctx, opts.API)
	if err != nil {
		s.closeParts()
		return err
	}
	if err := s.listenAPI(ctx, opts.API); err != nil {
		s.closeParts()
		return err
	}
	if opts.MetricsAddr != "" {
		if err := s.listenMetrics(opts.MetricsAddr); err != nil {
			s.Close(ctx)
			return err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancelRun = cancel
	go func() {
		s.runErr = s.controller.Run(runCtx)
		close(s.runDone)
	}()
	if s.registry != nil {
		go s.registry.Run(runCtx) // removes abandoned uploads until Close
	}
	go func() {
		if err := s.pipeline.Run(runCtx); err != nil {
			s.log.Error("pipeline stopped", "err", err)
		}
		close(s.pipeDone)
	}()
	s.startNotifier(runCtx, notifier)
	return nil
}

// Controller returns the deployment controller.
func (s *Server) Controller() *deploy.Controller { return s.controller }

// Store returns the store.
func (s *Server) Store() *store.Store { return s.store }

// DataPlane returns the connection to the data plane.
func (s *Server) DataPlane() *dataplane.Conn { return s.dp }

// SocketPath returns the API socket's path.
func (s *Server) SocketPath() string { return filepath.Join(s.dataDir, SocketName) }

// Done is closed when the controller stops, by itself (see Err) or
// because the server is closing.
func (s *Server) Done() <-chan struct{} { return s.runDone }

// Err returns why the controller stopped, once Done is closed.
func (s *Server) Err() error {
	<-s.runDone
	return s.runErr
}

// DeployDir deploys the app in req.Dir: it reads and checks its
// cutover.yaml (an invalid file changes nothing), snapshots its release
// directory, registers the configuration and starts a deployment.
func (s *Server) DeployDir(ctx context.Context, req api.DeployRequest) (store.Deployment, error) {
	app, artifact, err := s.prepare(req)
	if err != nil {
		return store.Deployment{}, err
	}
	return s.controller.Deploy(ctx, app.Name, deploy.RevisionSpec{Artifact: artifact, Config: app})
}

// Up deploys the app in dir unless it already runs exactly this release
// and configuration (as after a restart of `cutover up`). It returns the
// deployment it started, or ok=false when there was nothing to do.
func (s *Server) Up(ctx context.Context, req api.DeployRequest) (d store.Deployment, started bool, err error) {
	app, artifact, err := s.prepare(req)
	if err != nil {
		return d, false, err
	}
	if same, err := s.runsAlready(ctx, app, artifact); err != nil {
		return d, false, err
	} else if same {
		return d, false, nil
	}
	if active, err := s.store.ActiveDeployment(ctx, app.Name); err == nil {
		return active, false, nil // resumed by the controller; follow it
	} else if !errors.Is(err, store.ErrNotFound) {
		return d, false, err
	}
	d, err = s.controller.Deploy(ctx, app.Name, deploy.RevisionSpec{Artifact: artifact, Config: app})
	return d, err == nil, err
}

// prepare loads and checks the app and makes its release directory.
func (s *Server) prepare(req api.DeployRequest) (*config.App, string, error) {
	app, err := config.LoadApp(req.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	}
	if err != nil {
		return nil, "", err
	}
	if len(req.Env) > 0 {
		env := maps.Clone(app.Service.Env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, req.Env)
		app.Service.Env = env
	}
	for _, w := range app.Warnings {
		s.log.Warn(w)
	}
	artifact := app.Service.Image
	if app.Service.Runtime == config.RuntimeProcess {
		dir, _, err := release.Snapshot(app.Service.Release, filepath.Join(s.dataDir, "releases", app.Name))
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", api.ErrBadRequest, err)
		}
		artifact = dir
	}
	return app, artifact, nil
}

// runsAlready reports whether the app's current revision has this
// artifact and configuration.
func (s *Server) runsAlready(ctx context.Context, app *config.App, artifact string) (bool, error) {
	a, err := s.store.GetApp(ctx, app.Name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.CurrentRevision == "") {
		return false, nil
	} else if err != nil {
		return false, err
	}
	rev, err := s.store.GetRevision(ctx, a.CurrentRevision)
	if err != nil {
		return false, err
	}
	if rev.Artifact != artifact {
		return false, nil
	}
	// The running revision holds the config vars it was deployed with.
	withVars := *app
	if withVars.Service.ConfigVars, err = s.store.SealedEnv(ctx, app.Name, store.ScopeRun); err != nil {
		return false, err
	}
	if len(withVars.Service.ConfigVars) == 0 {
		withVars.Service.ConfigVars = nil
	}
	cfg, err := json.Marshal(withVars)
	if err != nil {
		return false, err
	}
	return jsonEqual(cfg, rev.Config), nil
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Continue, Stop and Rollback act on a deployment.
func (s *Server) Continue(ctx context.Context, id string) error {
	return s.controller.Continue(ctx, id)
}
func (s *Server) Stop(ctx context.Context, id string) error { return s.controller.Stop(ctx, id) }
func (s *Server) Scale(ctx context.Context, app string, count int) error {
	return s.controller.Scale(ctx, app, count)
}
func (s *Server) Restart(ctx context.Context, app string) error {
	return s.controller.Restart(ctx, app)
}

// RunTask starts a one-off task of an app's current revision.
func (s *Server) RunTask(ctx context.Context, app string, opts deploy.RunOptions) (api.OneOff, error) {
	o, err := s.controller.RunTask(ctx, app, opts)
	if err != nil {
		return nil, err // not a nil *deploy.OneOff in an interface
	}
	return o, nil
}
func (s *Server) Rollback(ctx context.Context, id string) error {
	return s.controller.Rollback(ctx, id)
}

func (s *Server) listenAPI(ctx context.Context, tcp api.TCPOptions) error {
	ln, err := s.listenUnix()
	if err != nil {
		return err
	}
	s.apiLn = ln
	var tln net.Listener
	if tcp.Addr != "" {
		tcp.Inherited = s.inherited["api-tcp"]
		if tln, err = api.ListenTCP(ctx, tcp, s.log); err != nil {
			ln.Close()
			return err
		}
		s.apiAddr = tln.Addr()
		s.apiTCPRaw = tln
		if r, ok := tln.(interface{ Raw() net.Listener }); ok {
			s.apiTCPRaw = r.Raw()
		}
	}
	h := api.New(api.Options{Store: s.store, Deployer: s, Logs: s.driver, Logger: s.log, System: s, Destroyer: s,
		Pipelines: s.pipeline, PushURL: s.pushURLs(tcp)})
	s.apiSrv = s.httpLimits.apiServer(h.Local())
	s.apiSrv.RegisterOnShutdown(h.CloseStreams) // event streams would hold Shutdown up
	go s.apiSrv.Serve(ln)
	if tln != nil {
		reg := s.newRegistry() // see registry.go
		dash := s.newWeb()     // see web.go
		routes := tcpRoutes(h.Remote(), s.pipeline.Handler(), reg, dash)
		s.apiTCPSrv = s.httpLimits.apiServer(routes)
		s.apiTCPSrv.RegisterOnShutdown(h.CloseStreams)
		s.apiTCPSrv.RegisterOnShutdown(dash.CloseStreams)
		go s.apiTCPSrv.Serve(tln)
	}
	return nil
}

// listenUnix binds the API's unix socket, or takes the one an upgrade
// kept.
func (s *Server) listenUnix() (net.Listener, error) {
	if ln := s.inherited["api"]; ln != nil {
		return ln, nil
	}
	path := s.SocketPath()
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return nil, fmt.Errorf("another cutover already serves %s", s.dataDir)
	}
	os.Remove(path) // a stale socket of a cutover that died
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restricting %s: %w", path, err)
	}
	return ln, nil
}

// newInstanceID names one start of the control plane.
func newInstanceID() string {
	var raw [6]byte
	rand.Read(raw[:])
	return hex.EncodeToString(raw[:])
}

// APIAddr returns the address the API listens on over TCP, nil when it
// does not.
func (s *Server) APIAddr() net.Addr { return s.apiAddr }

func (s *Server) listenMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics endpoint: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.metricsSrv = s.httpLimits.metricsServer(mux)
	go s.metricsSrv.Serve(ln)
	return nil
}

// Close stops cutover itself and leaves the tasks running, so that a
// restarted cutover re-adopts them.
func (s *Server) Close(ctx context.Context) error {
	return errors.Join(s.stopControl(ctx), s.closeParts())
}

// CloseAfterFailedStart is Close for a `cutover up` that could not
// deploy: a data plane that serves nothing yet is stopped too, so that
// nothing is left running for nothing.
func (s *Server) CloseAfterFailedStart(ctx context.Context) error {
	st, err := s.dp.Client().Status(ctx)
	if err == nil && st.Version == 0 {
		return errors.Join(s.stopControl(ctx), s.dp.Stop(ctx), s.closeParts())
	}
	return s.Close(ctx)
}

// CloseAndStopTasks stops cutover and the tasks it runs: the load
// balancer finishes its in-flight requests first, then every task gets
// SIGTERM and its stop timeout, and the store records them as stopped.
func (s *Server) CloseAndStopTasks(ctx context.Context) error {
	errs := []error{s.stopControl(ctx), s.dp.Stop(ctx)}
	tasks, err := s.driver.List(ctx)
	errs = append(errs, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, t := range tasks {
		if !t.Running {
			continue
		}
		wg.Go(func() {
			_, err := s.driver.Stop(ctx, t.ID, 0)
			if err == nil {
				_, err = s.store.SetTaskState(ctx, t.ID, store.TaskStopped)
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
			}
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	errs = append(errs, s.closeParts())
	return errors.Join(errs...)
}

// stopControl stops the API, the metrics endpoint and the controller.
func (s *Server) stopControl(ctx context.Context) error {
	var errs []error
	if s.apiSrv != nil {
		errs = append(errs, s.apiSrv.Shutdown(ctx))
	}
	if s.apiTCPSrv != nil {
		errs = append(errs, s.apiTCPSrv.Shutdown(ctx))
	}
	if s.metricsSrv != nil {
		errs = append(errs, s.metricsSrv.Shutdown(ctx))
	}
	if s.cancelRun != nil {
		s.cancelRun()
		<-s.runDone
		<-s.pipeDone
		<-s.notifyDone
		s.cancelRun = nil
	}
	return errors.Join(errs...)
}

func (s *Server) closeParts() error {
	errs := []error{s.dp.Close(), s.procs.Close()}
	if s.inproc != nil {
		s.inproc.Shutdown()
	}
	if s.images != nil {
		errs = append(errs, s.images.Close())
	}
	if s.swarm != nil {
		errs = append(errs, s.swarm.Close())
	}
	return errors.Join(append(errs, s.store.Close())...)
}

// ownerID returns the id in <dataDir>/owner-id, made on first use: it
// names this data directory's tasks on a shared Docker Engine or swarm.
func ownerID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "owner-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("making the owner id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the owner id: %w", err)
	}
	return id, nil
}
