//go:build unix

package proxy

import "syscall"

// peekAlive looks at an idle connection without blocking: nothing to
// read means alive; end of stream, an error or unasked data means the
// connection must not be used.
func peekAlive(raw syscall.RawConn) bool {
	alive := false
	var buf [1]byte
	err := raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for readiness
	})
	return err == nil && alive
}
