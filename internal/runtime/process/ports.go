package process

import (
	"fmt"
	"net"
	"strconv"

	"github.com/cutover/cutover/internal/runtime"
)

// address is where the load balancer reaches a task listening on port.
func address(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// reserve marks id as being started and picks a host port for it. Both
// stay reserved until release, or until the task exits.
func (d *Driver) reserve(id string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	if _, ok := d.tasks[id]; ok || d.starting[id] {
		return 0, fmt.Errorf("%w: ID %q is already in use", runtime.ErrInvalidSpec, id)
	}
	port, err := d.pickPortLocked(id)
	if err != nil {
		return 0, err
	}
	d.starting[id] = true
	return port, nil
}

// release undoes reserve for a task that did not start.
func (d *Driver) release(id string, port int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.starting, id)
	if d.ports[port] == id {
		delete(d.ports, port)
	}
}

// pickPortLocked returns the next port in the range that no task of this
// driver uses and that can be bound right now. The search starts after the
// last port handed out, so a port just freed is not reused at once.
func (d *Driver) pickPortLocked(id string) (int, error) {
	lo, hi := d.opts.PortMin, d.opts.PortMax
	n := hi - lo + 1
	for i := range n {
		port := lo + (d.nextPort-lo+i)%n
		if _, used := d.ports[port]; used || !portFree(port) {
			continue
		}
		d.ports[port] = id
		d.nextPort = lo + (port-lo+1)%n
		return port, nil
	}
	return 0, fmt.Errorf("%w in %d-%d", runtime.ErrNoPort, lo, hi)
}

// portFree reports whether a TCP listener could bind port on 127.0.0.1 and
// on the wildcard address (dual-stack [::], or 0.0.0.0 without IPv6).
func portFree(port int) bool {
	p := strconv.Itoa(port)
	for _, addr := range []string{"127.0.0.1:" + p, ":" + p} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
