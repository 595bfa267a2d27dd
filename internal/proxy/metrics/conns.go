package metrics

import (
	"bufio"
	"strconv"
)

// ListenerConns is one listener's client connections.
type ListenerConns struct {
	Listener string
	Open     int64 // open now, upgraded ones included
	Max      int64 // the listener's cap
	Waits    int64 // accepts that waited for a free slot, since the listener was bound
	Parked   int64 // idle keep-alive connections parked now, among Open
}

// SetConnections names the function WritePrometheus asks for the
// listeners' connections; the proxy sets it once.
func (r *Registry) SetConnections(f func() []ListenerConns) {
	r.conns.Store(&f)
}

// writeConnections writes the connection families, if a source was set.
func (r *Registry) writeConnections(bw *bufio.Writer) {
	f := r.conns.Load()
	if f == nil {
		return
	}
	ls := (*f)()
	family(bw, "cutover_listener_connections", "gauge", "Client connections open.")
	for _, l := range ls {
		sample(bw, "cutover_listener_connections", []string{"listener", l.Listener}, "", "", strconv.FormatInt(l.Open, 10))
	}
	family(bw, "cutover_listener_parked_connections", "gauge", "Idle client connections parked without a goroutine or buffers, among those open.")
	for _, l := range ls {
		sample(bw, "cutover_listener_parked_connections", []string{"listener", l.Listener}, "", "", strconv.FormatInt(l.Parked, 10))
	}
	family(bw, "cutover_listener_max_connections", "gauge", "Client connections a listener keeps open at most (max_connections).")
	for _, l := range ls {
		sample(bw, "cutover_listener_max_connections", []string{"listener", l.Listener}, "", "", strconv.FormatInt(l.Max, 10))
	}
	family(bw, "cutover_listener_connection_waits_total", "counter", "New connections left in the accept backlog because the listener was at max_connections.")
	for _, l := range ls {
		sample(bw, "cutover_listener_connection_waits_total", []string{"listener", l.Listener}, "", "", strconv.FormatInt(l.Waits, 10))
	}
}
