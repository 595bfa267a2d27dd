package dataplane

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
)

// The control plane keeps a copy of the data plane's listening sockets.
// If the data plane crashes, the sockets stay open: new connections wait
// in their backlog instead of being refused, and the data plane the
// control plane starts next inherits them and accepts them. Only the
// connections the crashed process had are lost.

// socketsProtocol is the Upgrade token of POST /v1/sockets.
const socketsProtocol = "cutover-sockets"

// socketsEnv names the sockets a launched data plane inherits:
// <configured address>=<fd>,...
const socketsEnv = "CUTOVER_DATAPLANE_SOCKETS"

// handleSockets passes copies of the listening sockets and closes.
func (s *Server) handleSockets(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != socketsProtocol {
		writeJSON(w, http.StatusBadRequest, Ack{Error: "want Upgrade: " + socketsProtocol})
		return
	}
	lfs, err := s.proxy.ListenerFiles()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, Ack{Error: err.Error()})
		return
	}
	var st handoverState
	files := make([]*os.File, 0, len(lfs))
	for _, lf := range lfs {
		files = append(files, lf.File)
		st.Files = append(st.Files, lf.Address)
	}
	defer closeAll(files)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return
	}
	head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + socketsProtocol + "\r\n\r\n"
	if _, err := uc.Write([]byte(head)); err != nil {
		return
	}
	if err := sendSockets(uc, files, st); err != nil {
		s.log.Warn("passing socket copies to the control plane", "err", err)
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// takeInheritedSockets returns the listening sockets a launcher passed,
// by configured address, and removes their note from the environment.
func takeInheritedSockets() map[string]net.Listener {
	out := map[string]net.Listener{}
	for addr, f := range InheritedFiles(socketsEnv) {
		if ln, err := fileListener(f); err == nil {
			out[addr] = ln
		}
	}
	return out
}

// keepSockets makes the held copies match the listeners of the data
// plane: copies of new ones are fetched, copies of removed ones closed
// (so that their ports are free again). Called with c.pushMu held.
func (c *Conn) keepSockets(ctx context.Context, addrs []string) {
	slices.Sort(addrs)
	if slices.Equal(addrs, c.heldAddrs()) {
		return
	}
	uc, _, files, _, err := dialSockets(filepath.Join(c.dataDir, SocketName), "/v1/sockets", socketsProtocol)
	if err != nil {
		c.log.Warn("keeping copies of the data plane's sockets", "err", err)
		return
	}
	uc.Close()
	for addr, f := range c.held {
		if files[addr] == nil {
			f.Close()
		} else {
			files[addr].Close() // the copy held already serves
			files[addr] = f
		}
	}
	c.held = files
}

func (c *Conn) heldAddrs() []string {
	out := make([]string, 0, len(c.held))
	for addr := range c.held {
		out = append(out, addr)
	}
	slices.Sort(out)
	return out
}
