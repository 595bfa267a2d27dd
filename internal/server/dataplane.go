package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/cutover/cutover/internal/dataplane"
	"github.com/cutover/cutover/internal/store"
)

// attachDataPlane connects to the data plane of the data directory,
// starting it when none runs. Its events (started, restarted after a
// crash, upgraded) go to the event log.
func (s *Server) attachDataPlane(ctx context.Context, opts Options) error {
	s.exe = opts.Executable
	if s.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding cutover's binary for the data plane: %w", err)
		}
		s.exe = exe
	}
	// After an upgrade, this process is the parent of the data planes the
	// program before it started; reap them as they exit.
	dataplane.ReapInherited()
	var starter dataplane.Starter = dataplane.Launcher{Path: s.exe, DataDir: opts.DataDir}
	if opts.InProcessDataPlane {
		s.inproc = &dataplane.InProcess{DataDir: opts.DataDir, Logger: s.log}
		starter = s.inproc
	}
	dp, err := dataplane.Attach(ctx, dataplane.AttachOptions{
		DataDir: opts.DataDir, Launcher: starter, Logger: s.log, OnEvent: s.dataPlaneEvent,
	})
	if err != nil {
		if s.inproc != nil {
			s.inproc.Shutdown()
		}
		return fmt.Errorf("starting the data plane: %w", err)
	}
	s.dp = dp
	return nil
}

// dataPlaneEvent records what happened to the data plane in the event log.
func (s *Server) dataPlaneEvent(kind, msg string) {
	data, _ := json.Marshal(map[string]string{"message": msg})
	if _, err := s.store.Append(context.Background(), store.Event{Type: kind, Data: data}); err != nil {
		s.log.Warn("recording a data plane event", "type", kind, "err", err)
	}
}

// serveMetrics relays the data plane's Prometheus metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	if err := s.dp.Client().WriteMetrics(r.Context(), w); err != nil {
		s.log.Warn("relaying the data plane's metrics", "err", err)
	}
}
