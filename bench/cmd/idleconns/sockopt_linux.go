package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindAddressNoPort lets connect, not bind, pick the source port, so
// each source address has its own ephemeral ports towards the listener.
func bindAddressNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
