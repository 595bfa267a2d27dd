// Package lb runs cutover as a standalone load balancer: it serves an
// lb.yaml file through internal/proxy and offers an admin endpoint for
// metrics, target health and reloads.
//
// A reload reads the file again and applies it only when it is valid and
// every new listener could bind; otherwise the error is reported and the
// running configuration keeps serving, unchanged.
package lb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
)

// Server is a running standalone load balancer.
type Server struct {
	path  string
	log   *slog.Logger
	proxy *proxy.Proxy

	mu    sync.Mutex // serialises reloads
	admin string     // admin address in effect

	adminSrv *http.Server
	adminLn  net.Listener

	upgrades chan UpgradeRequest // see Upgrades
}

// Start loads the configuration at path, starts the proxy and the admin
// endpoint, and returns once they listen. An invalid file or a port in
// use is an error and nothing keeps running.
func Start(ctx context.Context, path string, log *slog.Logger) (*Server, error) {
	cfg, err := config.LoadLB(path)
	if err != nil {
		return nil, err
	}
	inh := takeInherited()
	s := &Server{path: path, log: log, admin: cfg.Admin, upgrades: make(chan UpgradeRequest),
		proxy: proxy.New(proxy.Options{Logger: log, Inherited: inh.listeners})}
	if err := s.proxy.Apply(ctx, cfg.Proxy.WithHealthy(inh.healthy)); err != nil {
		s.proxy.Close(ctx)
		inh.close()
		return nil, fmt.Errorf("starting load balancer from %s: %w", path, err)
	}
	if cfg.Admin != "off" {
		if err := s.startAdmin(cfg.Admin, inh.admin); err != nil {
			s.proxy.Close(ctx)
			inh.close()
			return nil, err
		}
	} else if inh.admin != nil {
		inh.admin.Close()
	}
	for _, l := range cfg.Proxy.Listeners {
		log.Info("listener up", "listener", l.Name, "address", s.proxy.Addr(l.Name).String())
	}
	inh.serving()
	return s, nil
}

// Proxy returns the running proxy.
func (s *Server) Proxy() *proxy.Proxy { return s.proxy }

// AdminAddr returns the admin endpoint's address, or nil when it is off.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// Reload reads the configuration file again and applies it. On any error
// the running configuration stays as it was.
func (s *Server) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := config.LoadLB(s.path)
	if err != nil {
		s.log.Error("reload refused; the running configuration keeps serving", "config", s.path, "error", err)
		return err
	}
	if err := s.proxy.Apply(ctx, cfg.Proxy); err != nil {
		s.log.Error("reload refused; the running configuration keeps serving", "config", s.path, "error", err)
		return fmt.Errorf("applying %s: %w", s.path, err)
	}
	if cfg.Admin != s.admin {
		s.log.Warn("the admin address changed in the file; restart cutover proxy to move it", "running", s.admin, "file", cfg.Admin)
	}
	s.log.Info("configuration reloaded", "config", s.path)
	return nil
}

// Close shuts down the admin endpoint and the proxy gracefully: in-flight
// requests finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.adminSrv != nil {
		errs = append(errs, s.adminSrv.Shutdown(ctx))
	}
	errs = append(errs, s.proxy.Close(ctx))
	return errors.Join(errs...)
}

func (s *Server) startAdmin(addr string, inherited net.Listener) error {
	ln := inherited
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("admin endpoint: listening on %s: %w", addr, err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.proxy.Metrics().Handler())
	mux.HandleFunc("GET /targets", s.handleTargets)
	mux.HandleFunc("POST /reload", s.handleReload)
	mux.HandleFunc("POST /upgrade", s.handleUpgrade)
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.adminLn = ln
	s.adminSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin endpoint stopped", "error", err)
		}
	}()
	s.log.Info("admin endpoint up", "address", ln.Addr().String())
	return nil
}

// handleStatus tells which process serves: its pid changes with each
// upgrade.
func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		PID    int    `json:"pid"`
		Config string `json:"config"`
	}{os.Getpid(), s.path})
}

func (s *Server) handleTargets(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s.proxy.Targets())
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.Reload(r.Context()); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "reload refused, the running configuration keeps serving:\n%v\n", err)
		return
	}
	fmt.Fprintf(w, "reloaded %s\n", s.path)
}
