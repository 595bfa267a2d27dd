//go:build !unix

package proxy

import (
	"net"
	"syscall"
)

// answerWriter writes through the connection here: there is no socket
// to write to directly (see await_unix.go).
type answerWriter struct{ armed bool }

func (w *answerWriter) setRaw(syscall.RawConn) {}

func (w *answerWriter) write(c net.Conn, p []byte) (int, error) {
	w.armed = false
	return c.Write(p)
}
