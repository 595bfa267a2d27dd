package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

// File names in the data directory.
const (
	SocketName = "dataplane.sock"
	stateName  = "dataplane.json"
	pidName    = "dataplane.pid"
	// LogName is where a launched data plane writes its log.
	LogName = "dataplane.log"
)

// Options configure a data plane.
type Options struct {
	DataDir string
	Logger  *slog.Logger // nil: discard
	// TakeOver replaces the data plane running on DataDir: its sockets
	// are handed over, it drains and exits.
	TakeOver bool
	// Settle is how long a predecessor lets keep-alive clients finish
	// their current request before closing idle connections; default 1s.
	Settle time.Duration
	// Executable and Build (its version) are reported in the status,
	// for `cutover upgrade`.
	Executable, Build string
}

// Server is a running data plane.
type Server struct {
	log     *slog.Logger
	dataDir string
	settle  time.Duration
	exe     string
	build   string
	started time.Time
	proxy   *proxy.Proxy
	ctl     *http.Server
	ctlLn   net.Listener
	pred    *predecessor // nil unless this one took over from another
	predPID int
	predDrn map[string]bool

	mu          sync.Mutex // guards the fields below and serializes Apply
	version     uint64
	cfg         proxy.Config
	handingOver bool

	streams   context.Context // cancelled when the control server stops
	endStream context.CancelFunc
	exit      chan exitReason // the reason Run returns
}

type exitReason int

const (
	exitStopped    exitReason = iota // stopped and drained already
	exitHandedOver                   // a successor serves: drain and exit
)

// Run starts a data plane and serves until ctx ends (then it drains and
// stops), a control plane asks it to stop, or a successor takes over.
func Run(ctx context.Context, opts Options) error {
	s, err := start(ctx, opts)
	if err != nil {
		return err
	}
	return s.wait(ctx)
}

func start(ctx context.Context, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log: log, dataDir: opts.DataDir, settle: opts.Settle, exe: opts.Executable, build: opts.Build,
		started: time.Now(), exit: make(chan exitReason, 1), predDrn: map[string]bool{},
	}
	if s.settle <= 0 {
		s.settle = time.Second
	}
	s.streams, s.endStream = context.WithCancel(context.Background())
	inherited := takeInheritedSockets()
	var err error
	if opts.TakeOver {
		for _, ln := range inherited {
			ln.Close()
		}
		err = s.takeOver(ctx)
	} else {
		err = s.startFresh(ctx, inherited)
	}
	if err != nil {
		return nil, err
	}
	writeFile(filepath.Join(s.dataDir, pidName), []byte(strconv.Itoa(os.Getpid())+"\n"))
	return s, nil
}

// startFresh binds the control socket and serves the configuration kept
// in the data directory, if any, on the listening sockets a launcher
// passed (the control plane's copies, after a crash) or on new ones.
func (s *Server) startFresh(ctx context.Context, inherited map[string]net.Listener) error {
	sock := filepath.Join(s.dataDir, SocketName)
	if st, err := NewClient(sock).Status(ctx); err == nil {
		for _, ln := range inherited {
			ln.Close()
		}
		return fmt.Errorf("a data plane (pid %d) already serves %s; use --takeover to replace it", st.PID, s.dataDir)
	}
	os.Remove(sock) // a stale socket of a data plane that died
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("restricting %s: %w", sock, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // a successor may serve it
	s.ctlLn = ln
	s.proxy = proxy.New(proxy.Options{Logger: s.log, Inherited: inherited, CertDir: certDir(s.dataDir)})
	if v, cfg, ok := s.loadState(); ok {
		// The targets' health is unknown after a crash. They start healthy,
		// as the controller's re-adopted tasks do, so production serves at
		// once; failed checks, outlier ejection and the one retry on a
		// refused connection keep a dead target from costing requests.
		if err := s.proxy.Apply(ctx, cfg.WithHealthy(allTargets(cfg))); err != nil {
			s.log.Error("cannot serve the kept configuration; waiting for the control plane", "version", v, "err", err)
		} else {
			s.version, s.cfg = v, cfg
			s.log.Info("serving the kept configuration", "version", v)
		}
	}
	s.serveControl()
	return nil
}

// takeOver starts from a running data plane's sockets and state.
func (s *Server) takeOver(ctx context.Context) error {
	sock := filepath.Join(s.dataDir, SocketName)
	pred, files, st, err := dialHandover(sock)
	if err != nil {
		return err
	}
	abort := func(err error) error {
		for _, f := range files {
			f.Close()
		}
		pred.conn.Close()
		return err
	}
	if files["control"] == nil {
		return abort(errors.New("the running data plane passed no control socket"))
	}
	ctlLn, err := fileListener(files["control"])
	delete(files, "control")
	if err != nil {
		return abort(fmt.Errorf("taking the control socket: %w", err))
	}
	inherited := make(map[string]net.Listener, len(files))
	for addr, f := range files {
		ln, err := fileListener(f)
		delete(files, addr)
		if err != nil {
			ctlLn.Close()
			return abort(fmt.Errorf("taking the socket of %s: %w", addr, err))
		}
		inherited[addr] = ln
	}
	s.proxy = proxy.New(proxy.Options{Logger: s.log, Inherited: inherited, CertDir: certDir(s.dataDir)})
	if len(st.Config.Listeners) > 0 {
		if err := s.proxy.Apply(ctx, st.Config.WithHealthy(st.Healthy)); err != nil {
			ctlLn.Close()
			s.proxy.Close(ctx)
			return abort(fmt.Errorf("serving the handed-over configuration: %w", err))
		}
	}
	s.version, s.cfg, s.ctlLn, s.pred, s.predPID = st.Version, st.Config, ctlLn, pred, st.PID
	for _, d := range st.Draining {
		s.predDrn[d] = true
	}
	s.serveControl()
	if err := pred.ready(); err != nil {
		s.ctl.Close()
		s.proxy.Close(ctx)
		return err
	}
	s.saveState(st.Version, st.Config)
	s.log.Info("took over from the previous data plane", "pid", st.PID, "version", st.Version)
	return nil
}

func allTargets(cfg proxy.Config) map[string][]string {
	out := make(map[string][]string, len(cfg.TargetGroups))
	for _, tg := range cfg.TargetGroups {
		out[tg.Name] = tg.Targets
	}
	return out
}

// wait serves until the end, then stops the way the end asks for.
func (s *Server) wait(ctx context.Context) error {
	var why exitReason
	select {
	case <-ctx.Done():
		s.log.Info("stopping: draining connections", "limit", s.drainLimit())
		dctx, cancel := context.WithTimeout(context.Background(), s.drainLimit())
		s.proxy.Close(dctx)
		cancel()
		why = exitStopped
	case why = <-s.exit:
	}
	s.stopControl()
	if why == exitHandedOver {
		s.log.Info("handed over; draining connections", "limit", s.drainLimit())
		dctx, cancel := context.WithTimeout(context.Background(), s.drainLimit())
		defer cancel()
		err := s.proxy.HandOver(dctx, s.settle)
		s.log.Info("drained; exiting")
		return err
	}
	os.Remove(filepath.Join(s.dataDir, SocketName))
	os.Remove(filepath.Join(s.dataDir, pidName))
	return nil
}

// stopControl closes the control server; a successor keeps serving it.
func (s *Server) stopControl() {
	s.endStream()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.ctl.Shutdown(ctx)
}

// drainLimit is how long connections may finish when this data plane
// stops or hands over: the longest deregistration delay it serves.
func (s *Server) drainLimit() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := time.Duration(0)
	for _, tg := range s.cfg.WithDefaults().TargetGroups {
		limit = max(limit, tg.DeregistrationDelay)
	}
	return max(limit, time.Second)
}

// loadState reads the configuration kept in the data directory.
func (s *Server) loadState() (uint64, proxy.Config, bool) {
	var st struct {
		Version uint64
		Config  proxy.Config
	}
	b, err := os.ReadFile(filepath.Join(s.dataDir, stateName))
	if err != nil {
		return 0, st.Config, false
	}
	if err := json.Unmarshal(b, &st); err != nil {
		s.log.Error("ignoring an unreadable kept configuration", "file", stateName, "err", err)
		return 0, st.Config, false
	}
	return st.Version, st.Config, len(st.Config.Listeners) > 0
}

// saveState keeps the configuration for a data plane restarted after a
// crash. Failing to keep it is logged: serving goes on.
func (s *Server) saveState(v uint64, cfg proxy.Config) {
	b, err := json.Marshal(struct {
		Version uint64
		Config  proxy.Config
	}{v, cfg})
	if err == nil {
		err = writeFile(filepath.Join(s.dataDir, stateName), b)
	}
	if err != nil {
		s.log.Error("keeping the configuration", "err", err)
	}
}

// writeFile replaces path atomically with a file of mode 0600.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// configsEqual reports whether two configurations are the same.
func configsEqual(a, b proxy.Config) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
