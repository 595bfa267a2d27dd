// Package dataplane runs cutover's load balancer (package proxy, with its
// health checks and metrics) as a process of its own, and is the control
// plane's way to drive it.
//
// The data plane outlives the control plane: it runs in its own session,
// serves its last configuration while no control plane is connected (as
// an ALB keeps serving when its control API is down), and keeps that
// configuration in <data>/dataplane.json so that a data plane restarted
// after a crash serves again before any control plane pushes to it.
//
// The control plane talks to it over HTTP on the unix socket
// <data>/dataplane.sock (mode 0600):
//
//	GET  /v1/status          pid, config version, listener addresses
//	PUT  /v1/config          the whole desired proxy.Config with a version;
//	                         acknowledged once applied, idempotent
//	GET  /v1/events          target states, a line of JSON at each change
//	GET  /v1/drained         answers once a target has drained
//	GET  /v1/window          a target group's recent request stats
//	GET  /v1/certificates    ACME certificates: host, state, expiry, last error
//	GET  /metrics            Prometheus text
//	POST /v1/stop            drain and exit
//	POST /v1/handover        (Upgrade) hand the sockets to a successor
//
// A data plane is replaced without dropping a connection: the successor
// takes the listening sockets, the control socket included, over the
// control socket with SCM_RIGHTS (see handover.go), registers the targets
// that were healthy as healthy, serves, and only then does the
// predecessor stop accepting and drain.
//
// This package imports only the data plane (proxy, proxy/metrics,
// health), never the control plane.
package dataplane
