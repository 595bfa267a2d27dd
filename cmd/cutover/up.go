package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/runtime/process"
	"github.com/cutover/cutover/internal/sandbox"
	"github.com/cutover/cutover/internal/server"
	"github.com/cutover/cutover/internal/store"
)

// defaultDataDir is where cutover keeps its store, tasks and releases:
// $CUTOVER_DATA, else $XDG_DATA_HOME/cutover, else ~/.local/share/cutover.
func defaultDataDir() string {
	if d := os.Getenv("CUTOVER_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "cutover")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "cutover")
	}
	return ".cutover"
}

// upFlags are the flags of cutover up.
type upFlags struct {
	env           []string
	metrics       string
	api           api.TCPOptions
	sandboxMode   string
	sandboxUser   string
	exitOnFailure bool
	acme          acmeFlags
	retain        retainFlag // --retain-releases
}

func newUpCmd(g *globalFlags) *cobra.Command {
	f := &upFlags{}
	cmd := &cobra.Command{
		Use:   "up [dir]",
		Short: "Run cutover, and deploy the app in dir from its cutover.yaml when given",
		Long: `Start cutover on its embedded defaults: the store in the data directory,
the load balancer, the process runtime and the deployment controller; deploy
the app in dir (if given) unless it already runs this exact release; then
serve until interrupted. Without dir, cutover serves the apps already in its
store and waits for more: add apps with 'cutover deploy DIR' or git push, and
remove them with 'cutover apps destroy'. Other commands (deploy, status,
continue, stop, rollback) talk to it through the socket in the data directory.

The load balancer runs as a process of its own (the data plane, see
'cutover dataplane'), which 'cutover up' starts or finds running.

Ctrl-C (SIGINT) stops everything: the control plane, the data plane (after
its connections drain) and the app's tasks. SIGTERM (or kill -9) stops the
control plane only: the data plane keeps serving and the tasks keep running,
and the next 'cutover up' on the same data directory attaches to them again.

'cutover upgrade' replaces both planes with the binary on disk, hitless.

Builds, command hooks and process-runtime tasks run in a sandbox (see
docs/security.md): as root with bubblewrap installed, as the unprivileged
user cutover-build in namespaces of their own. --sandbox=required refuses to
start with less; --sandbox=off turns it off, loudly.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runUp(cmd, g, f, args) },
	}
	cmd.Flags().StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable of the service (KEY=VALUE), repeatable")
	cmd.Flags().StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics of the load balancer on this address, e.g. 127.0.0.1:9180")
	cmd.Flags().StringVar(&f.api.Addr, "api-addr", envOr("CUTOVER_API_ADDR", api.DefaultAddr), "serve the API with tokens on this TCP address too; \"\" for the unix socket only (env CUTOVER_API_ADDR)")
	cmd.Flags().StringVar(&f.api.CertFile, "api-tls-cert", "", "serve the TCP API over HTTPS with this certificate (PEM)")
	cmd.Flags().StringVar(&f.api.KeyFile, "api-tls-key", "", "the key of --api-tls-cert (PEM)")
	cmd.Flags().BoolVar(&f.api.Insecure, "api-insecure", false, "allow plain HTTP on a non-loopback --api-addr: tokens cross the network in clear text")
	cmd.Flags().BoolVar(&f.exitOnFailure, "exit-on-failure", false, "for scripts: stop everything and exit non-zero when the first deployment fails (by default cutover keeps serving and says what failed)")
	cmd.Flags().StringVar(&f.sandboxMode, "sandbox", envOr("CUTOVER_SANDBOX", "auto"), "isolation of builds, hooks and process tasks: auto (the most this machine allows, said when less), required (refuse to start without a full sandbox) or off (env CUTOVER_SANDBOX)")
	cmd.Flags().StringVar(&f.sandboxUser, "sandbox-user", "", "the user sandboxed commands run as (name or uid); default cutover-build, made if missing")
	cmd.Flags().Var(&f.retain, "retain-releases", "release directories kept per app after each successful deployment (cutover releases): default 10; 0 keeps all")
	addACMEFlags(cmd, &f.acme)
	return cmd
}

func runUp(cmd *cobra.Command, g *globalFlags, f *upFlags, args []string) error {
	if len(args) == 0 && len(f.env) > 0 {
		return errors.New("--env sets the environment of the app cutover up deploys; name its directory: cutover up DIR --env KEY=VALUE")
	}
	var req api.DeployRequest
	if len(args) == 1 {
		abs, err := filepath.Abs(args[0])
		if err != nil {
			return err
		}
		overrides, err := parseEnv(f.env)
		if err != nil {
			return err
		}
		req = api.DeployRequest{Dir: abs, Env: overrides}
	}
	srv, err := startServer(cmd, g, f)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "cutover is up: data in %s, API on %s\n", g.dataDir, apiLocation(srv, f.api))
	if req.Dir == "" {
		// The server alone: apps come with cutover deploy and git push,
		// and those already in the store are served again.
		fmt.Fprintln(out, "no app directory given: serving the apps in the store; add one with: cutover deploy DIR")
		return serveUntilStopped(srv, nil, out)
	}
	failed, err := deployFirst(cmd.Context(), srv, f.exitOnFailure, req, args[0], out)
	if err != nil {
		return err
	}
	return serveUntilStopped(srv, failed, out)
}

// startServer starts the daemon, on the unix socket only when the
// default TCP address belongs to another cutover.
func startServer(cmd *cobra.Command, g *globalFlags, f *upFlags) (*server.Server, error) {
	sbConfig, err := parseSandbox(f.sandboxMode, f.sandboxUser)
	if err != nil {
		return nil, err
	}
	acmeSettings, err := f.acme.settings()
	if err != nil {
		return nil, err
	}
	log := g.logger(cmd.ErrOrStderr())
	ctx := cmd.Context()
	opts := server.Options{DataDir: g.dataDir, Logger: log, MetricsAddr: f.metrics, API: f.api,
		Inherited: server.InheritedListeners(), Version: version, Sandbox: sbConfig, ACME: acmeSettings,
		RetainReleases: int(f.retain)}
	if exe, err := os.Executable(); err == nil {
		opts.TaskLogWriter = []string{exe, process.LogWriterArg}
	}
	srv, err := server.Start(ctx, opts)
	if errors.Is(err, syscall.EADDRINUSE) && !cmd.Flags().Changed("api-addr") && os.Getenv("CUTOVER_API_ADDR") == "" {
		// The default port belongs to another cutover (another data
		// directory): serve the socket only.
		log.Warn("the API's default TCP address is in use; serving the unix socket only (set --api-addr)", "addr", f.api.Addr)
		opts.API.Addr = ""
		srv, err = server.Start(ctx, opts)
	}
	return srv, err
}

// apiLocation says where the API listens, for the start line.
func apiLocation(srv *server.Server, opts api.TCPOptions) string {
	at := srv.SocketPath()
	if a := srv.APIAddr(); a != nil {
		scheme := "http"
		if opts.CertFile != "" {
			scheme = "https"
		}
		at += " and " + scheme + "://" + a.String() + " (token needed)"
	}
	return at
}

// deployFirst deploys the app in req.Dir unless it already runs that
// release, and follows the deployment. A deployment that cannot start
// leaves cutover serving unless exitOnFailure; then the returned channel
// also gets a value if the deployment ends other than Succeeded.
func deployFirst(ctx context.Context, srv *server.Server, exitOnFailure bool, req api.DeployRequest, dir string, out io.Writer) (<-chan error, error) {
	failed := make(chan error, 1)
	d, started, err := srv.Up(ctx, req)
	switch {
	case err != nil && exitOnFailure:
		srv.CloseAfterFailedStart(context.Background())
		return nil, err
	case err != nil:
		// A failed first deployment never takes cutover down: the user
		// fixes the app and deploys again.
		fmt.Fprintf(out, "✗ the deployment of %s did not start: %v\n", req.Dir, err)
		fmt.Fprintf(out, "cutover keeps running; fix the app and run: cutover deploy %s\n", dir)
	case d.ID != "":
		if !started {
			fmt.Fprintf(out, "resuming deployment %s\n", d.ID)
		}
		go func() {
			p := follow(ctx, api.NewClient(srv.SocketPath()), d.ID, out)
			if f := p.final; f != nil && f.Status != store.DeploymentSucceeded {
				failed <- fmt.Errorf("deployment %s %s", f.ID, f.Status)
			}
		}()
	default:
		fmt.Fprintln(out, "the app already runs this release; nothing to deploy")
	}
	if !exitOnFailure {
		return nil, nil // a failed deployment leaves cutover serving
	}
	return failed, nil
}

// serveUntilStopped serves until a signal, an upgrade, the controller's
// end, or a value on failed (nil: never).
func serveUntilStopped(srv *server.Server, failed <-chan error, out io.Writer) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case err := <-failed:
		fmt.Fprintf(out, "stopping cutover and the app's tasks (--exit-on-failure): %v\n", err)
		if cerr := withStopTimeout(srv.CloseAndStopTasks); cerr != nil {
			fmt.Fprintln(out, "stopping:", cerr)
		}
		return err
	case <-srv.Done():
		srv.Close(context.Background())
		return fmt.Errorf("the deployment controller stopped: %w", srv.Err())
	case <-srv.UpgradeRequested():
		fmt.Fprintln(out, "upgrading: the data plane was replaced; restarting the control plane into", srv.Executable())
		return restartInto(srv)
	case s := <-sig:
		if s == os.Interrupt {
			fmt.Fprintln(out, "stopping cutover and the app's tasks")
			return stopped(out, withStopTimeout(srv.CloseAndStopTasks), "cutover, its data plane and the app's tasks stopped")
		}
		fmt.Fprintln(out, "stopping cutover's control plane; the data plane and the tasks keep running")
		return stopped(out, withStopTimeout(srv.Close), "cutover's control plane stopped; `cutover up` attaches to the data plane and the tasks again")
	}
}

// stopped says done when a stop succeeded, and returns its error.
func stopped(out io.Writer, err error, done string) error {
	if err == nil {
		fmt.Fprintln(out, done)
	}
	return err
}

// withStopTimeout runs stop with two minutes, counted from now, for the
// drains a stop waits for.
func withStopTimeout(stop func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return stop(ctx)
}

// parseSandbox turns --sandbox and --sandbox-user into a sandbox.Config.
func parseSandbox(mode, user string) (sandbox.Config, error) {
	c := sandbox.Config{User: user}
	switch mode {
	case "auto", "":
	case "required":
		c.Required = true
	case "off":
		c.Off = true
	default:
		return c, fmt.Errorf("--sandbox %q: valid values are auto, required and off", mode)
	}
	return c, nil
}

// follow prints a deployment's progress until it ends.
func follow(ctx context.Context, c *api.Client, id string, out interface{ Write([]byte) (int, error) }) *progress {
	p := &progress{w: out}
	err := c.Follow(ctx, id, p.event)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(out, "following %s: %v\n", id, err)
	}
	return p
}

// restartInto closes the server, keeping its API sockets open, and
// executes cutover's binary again with the same arguments: the new
// process serves the kept sockets and attaches to the data plane and the
// tasks, which never stopped.
func restartInto(srv *server.Server) error {
	files, env, err := srv.KeepListeners()
	if err != nil {
		return fmt.Errorf("upgrading: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "closing the control plane for the upgrade:", err)
	}
	err = server.ExecKeeping(srv.Executable(), os.Args, append(os.Environ(), env), files)
	for _, f := range files {
		f.Close()
	}
	return fmt.Errorf("upgrading: starting %s: %w", srv.Executable(), err)
}
