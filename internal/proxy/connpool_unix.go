//go:build unix

package proxy

import "syscall"

// peekAlive looks at an idle connection without blocking: nothing to
// read means alive; end of stream, an error or unasked data means the
// connection must not be used.
func (c *upstreamConn) peekAlive() bool {
	if c.peek == nil {
		c.peek = func(fd uintptr) bool {
			_, _, err := syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			c.peekOK = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
			return true // never wait for readiness
		}
	}
	c.peekOK = false
	return c.raw.Read(c.peek) == nil && c.peekOK
}
