// Package swarm runs an app's tasks on a Docker Swarm cluster, keeping
// cutover's own load balancer, health checks and traffic shifting in front
// of them.
//
// Mapping: one Swarm service per cutover task, with one replica and
// restart policy "none". The runtime.Driver interface starts, watches and
// stops tasks one by one and reports one address per task, so a service of
// N replicas, which Swarm restarts and moves on its own, would hand
// cutover addresses that change behind its back. With one service per task,
// cutover's scheduler stays the only one that replaces tasks: a task that
// exits, is rejected or whose node is lost is reported as exited, the
// controller drains its address and starts a replacement (a new service),
// wherever Swarm places it.
//
// Addresses: the task's port is published in host mode (no routing mesh)
// on a port the driver picks from Options.PortRange, so the load balancer
// reaches the task directly at <node address>:<published port>. The driver
// picks the port, rather than letting the Engine choose one, because Docker
// 20.10 publishes an Engine-chosen port twice (different ports for IPv4 and
// IPv6) and does not say which is which. Swarm's scheduler never places two
// tasks publishing the same host port on one node.
//
// The Driver keeps no state of its own: the service is named
// "cutover-<task id>" and labelled cutover.managed, cutover.app,
// cutover.revision, cutover.task, cutover.port and cutover.published-port,
// so a new Driver value finds the tasks an earlier one started (List). How
// a stopped task ended is written back on its service (label cutover.exit),
// because Swarm deletes a scaled-down task as soon as it has shut down.
//
// Placement constraints come from the spec's labels: every label whose key
// starts with "cutover.constraint" is a Swarm constraint, e.g.
// "cutover.constraint.zone": "node.labels.zone==eu". Resource limits come
// from TaskSpec.Resources.
package swarm
