package dataplane

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/proxy"
)

// Status is what GET /v1/status answers.
type Status struct {
	PID        int
	Started    time.Time
	Executable string
	Build      string            // the binary's version
	Version    uint64            // of the configuration served
	Listeners  map[string]string // name → bound address
	// Predecessor is the pid of a data plane this one took over from
	// that is still draining, 0 when there is none.
	Predecessor int
}

// Push is the body of PUT /v1/config.
type Push struct {
	Version uint64
	Config  proxy.Config
}

// Ack is the answer to a push: the version served, and the listeners'
// bound addresses. Error is set when the push was refused.
type Ack struct {
	Version   uint64
	Listeners map[string]string
	Error     string `json:",omitempty"`
}

// TargetsEvent is one line of GET /v1/events: every target's state.
type TargetsEvent struct {
	Targets []proxy.TargetState
}

func (s *Server) serveControl() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("PUT /v1/config", s.handleConfig)
	mux.HandleFunc("GET /v1/events", s.handleEvents)
	mux.HandleFunc("GET /v1/drained", s.handleDrained)
	mux.HandleFunc("GET /v1/window", s.handleWindow)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /v1/certificates", s.handleCertificates)
	mux.HandleFunc("POST /v1/stop", s.handleStop)
	mux.HandleFunc("POST /v1/handover", s.handleHandover)
	mux.HandleFunc("POST /v1/sockets", s.handleSockets)
	s.ctl = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.ctl.Serve(s.ctlLn)
}

func (s *Server) status() Status {
	st := Status{PID: os.Getpid(), Started: s.started, Executable: s.exe, Build: s.build, Listeners: s.proxy.ListenerAddrs()}
	s.mu.Lock()
	st.Version = s.version
	s.mu.Unlock()
	if s.pred != nil {
		select {
		case <-s.pred.done:
		default:
			st.Predecessor = s.predPID
		}
	}
	return st
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

// handleConfig applies a pushed configuration. A push of an older or
// equal version is acknowledged without change when it is the
// configuration served (a retry), refused otherwise.
func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	var p Push
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&p); err != nil {
		writeJSON(w, http.StatusBadRequest, Ack{Error: "decoding the configuration: " + err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.handingOver:
		writeJSON(w, http.StatusServiceUnavailable, Ack{Version: s.version, Error: "handing over to a new data plane; retry"})
		return
	case p.Version <= s.version && configsEqual(p.Config, s.cfg):
		writeJSON(w, http.StatusOK, s.ack())
		return
	case p.Version <= s.version:
		writeJSON(w, http.StatusConflict, Ack{Version: s.version, Error: fmt.Sprintf("version %d is not newer than the served %d", p.Version, s.version)})
		return
	}
	if err := s.proxy.Apply(r.Context(), p.Config); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, Ack{Version: s.version, Error: err.Error()})
		return
	}
	s.version, s.cfg = p.Version, p.Config
	s.saveState(p.Version, p.Config)
	writeJSON(w, http.StatusOK, s.ack())
}

// ack is the answer to a push. Called with s.mu held.
func (s *Server) ack() Ack {
	return Ack{Version: s.version, Listeners: s.proxy.ListenerAddrs()}
}

// handleEvents streams every target's state at once and after each change.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	for {
		changed := s.proxy.Changed()
		if err := enc.Encode(TargetsEvent{Targets: s.proxy.Targets()}); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-s.streams.Done():
			return
		}
	}
}

// handleDrained answers once the target has drained here and any
// predecessor, which may still carry requests to it, has exited.
func (s *Server) handleDrained(w http.ResponseWriter, r *http.Request) {
	group, target := r.URL.Query().Get("group"), r.URL.Query().Get("target")
	for _, ch := range []<-chan struct{}{s.proxy.Drained(group, target), s.predecessorDone()} {
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		case <-s.streams.Done():
			writeJSON(w, http.StatusServiceUnavailable, Ack{Error: "data plane stopping; ask again"})
			return
		}
	}
	writeJSON(w, http.StatusOK, struct{ Drained bool }{true})
}

func (s *Server) predecessorDone() <-chan struct{} {
	if s.pred == nil {
		return closedChan
	}
	return s.pred.done
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (s *Server) handleWindow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	secs, err := strconv.Atoi(q.Get("seconds"))
	if err != nil || secs < 1 {
		writeJSON(w, http.StatusBadRequest, Ack{Error: "seconds: want a whole number of at least 1"})
		return
	}
	d := time.Duration(secs) * time.Second
	m := s.proxy.Metrics()
	if t := q.Get("target"); t != "" {
		writeJSON(w, http.StatusOK, m.TargetWindow(q.Get("group"), t, d))
		return
	}
	writeJSON(w, http.StatusOK, m.Window(q.Get("group"), d))
}

// handleStop drains the proxy, answers, and ends Run.
func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), s.drainLimit())
	defer cancel()
	err := s.proxy.Close(ctx)
	if err != nil {
		writeJSON(w, http.StatusOK, Ack{Error: err.Error()})
	} else {
		writeJSON(w, http.StatusOK, Ack{})
	}
	select {
	case s.exit <- exitStopped:
	default:
	}
}

// handleHandover passes the sockets to a successor (see handover.go).
func (s *Server) handleHandover(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != handoverProtocol {
		writeJSON(w, http.StatusBadRequest, Ack{Error: "want Upgrade: " + handoverProtocol})
		return
	}
	st, files, err := s.beginHandover()
	if err != nil {
		writeJSON(w, http.StatusConflict, Ack{Error: err.Error()})
		return
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.endHandover(false)
		return
	}
	if err := s.handOver(conn, brw.Reader, files, st); err != nil {
		s.log.Error("hand-over failed; serving on", "err", err)
		conn.Close()
		s.endHandover(false)
		return
	}
	// The connection stays open until this process exits: the
	// successor reads its end as "the predecessor is gone".
	s.endHandover(true)
}

func (s *Server) handOver(conn net.Conn, br *bufio.Reader, files []*os.File, st handoverState) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("hand-over asked on a connection that is not a unix socket")
	}
	head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + handoverProtocol + "\r\n\r\n"
	if _, err := uc.Write([]byte(head)); err != nil {
		return err
	}
	if err := sendSockets(uc, files, st); err != nil {
		return err
	}
	uc.SetReadDeadline(time.Now().Add(time.Minute))
	line, err := br.ReadBytes('\n')
	var ready handoverReady
	if err == nil {
		err = json.Unmarshal(line, &ready)
	}
	if err != nil || !ready.Ready {
		return fmt.Errorf("%w: %v", errHandoverAborted, err)
	}
	uc.SetReadDeadline(time.Time{})
	return nil
}

// beginHandover stops taking pushes and gathers what the successor needs.
func (s *Server) beginHandover() (handoverState, []*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handingOver {
		return handoverState{}, nil, errors.New("a hand-over is already under way")
	}
	lfs, err := s.proxy.ListenerFiles()
	if err != nil {
		return handoverState{}, nil, err
	}
	ctlFile, err := s.ctlLn.(*net.UnixListener).File()
	if err != nil {
		for _, lf := range lfs {
			lf.File.Close()
		}
		return handoverState{}, nil, fmt.Errorf("duplicating the control socket: %w", err)
	}
	st := handoverState{Version: s.version, Config: s.cfg, Healthy: s.proxy.HealthyTargets(), PID: os.Getpid()}
	files := []*os.File{ctlFile}
	st.Files = append(st.Files, "control")
	for _, lf := range lfs {
		files = append(files, lf.File)
		st.Files = append(st.Files, lf.Address)
	}
	for _, t := range s.proxy.Targets() {
		if t.State == proxy.StateDraining {
			st.Draining = append(st.Draining, t.Group+" "+t.Target)
		}
	}
	s.handingOver = true
	return st, files, nil
}

// endHandover either resumes taking pushes (the successor failed) or
// ends Run, which drains this process and exits.
func (s *Server) endHandover(done bool) {
	if !done {
		s.mu.Lock()
		s.handingOver = false
		s.mu.Unlock()
		return
	}
	s.log.Info("a new data plane took over the sockets")
	select {
	case s.exit <- exitHandedOver:
	default:
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
