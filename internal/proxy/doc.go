// Package proxy is cutover's load balancer: it stands where an AWS
// Application Load Balancer stands, and zero-downtime deploys are won or
// lost here.
//
// A Proxy runs any number of listeners. Each listener routes a request by
// its rules (Host and path prefix, ascending priority, else the default
// action) to a weighted forward action, which picks a target group by
// weight and a target inside it. The controller moves the proxy between
// states by calling Apply with a whole Config; Apply binds new sockets
// first, so it either succeeds completely or changes nothing.
//
// # Invariants
//
//   - The request path takes no lock held across I/O. Routing tables and
//     target lists are immutable values behind atomic pointers; Apply
//     builds new ones and swaps them in, so changing weights or targets
//     never blocks or fails a request.
//   - A target stops getting new requests the moment Apply removes it; it
//     then drains: in-flight requests, streams and upgraded connections
//     (WebSockets) may run up to the group's DeregistrationDelay, and
//     whatever is left after that is cut. Drained reports when it is done.
//     Unlike kamal-proxy, WebSockets are not cut at the start of a drain.
//   - Target groups and targets that stay in the Config keep their state
//     (health, in-flight requests, ejection) across Apply calls.
//
// A rule (or the listener's default) may instead have a fixed-response
// action, as on ALB: the proxy answers with a configured status, body and
// Retry-After itself. The controller uses it for maintenance mode; target
// groups no action routes to stay registered and health-checked, and the
// switch back is one more Apply that keeps every connection.
//
// # Routing decisions
//
// Inside a group, targets are picked round robin (or by least outstanding
// requests) among the routable ones: healthy, not draining, not ejected.
// Targets in state initial get no traffic, as on ALB.
//
// If no target is routable, a group falls back in this order: a healthy
// target that is ejected (ejection is advice, not a reason to fail a
// request); then, when every registered target is unhealthy, all of them
// (ALB "fail open"). A group whose targets are all initial does not fail
// open: during a deploy, traffic to targets that have not yet passed a
// check is worse than traffic to the other group.
//
// When the chosen group has no target at all, the request goes to the other
// groups of the same forward action that have a weight above zero, and gets
// 503 only if none of them has one. This is a deliberate improvement over
// ALB: for zero-downtime deploys a weight on an empty or not-yet-healthy
// group must not fail requests. Groups with weight 0 never get requests.
//
// # Failures
//
// A request that failed before any byte of it reached a target (a dial
// error) is retried once on another target, possibly in another group of
// the same forward action. A bodiless idempotent request (GET, HEAD,
// OPTIONS, PUT, DELETE, TRACE) is also retried once after other transport
// errors. Nothing else is ever sent twice. The client gets 502 when the
// target failed, 503 when there was no target and 504 when the target did
// not send response headers within the group's ResponseTimeout.
//
// Passive outlier detection ejects a target after ConsecutiveFailures
// connection errors or 5xx responses in a row, for Ejection; it then
// returns once its active health check says healthy. The last routable
// target of a group is never ejected: ejecting it would turn errors from
// one target into 503s for everyone.
//
// A target removed and added again while it drains returns to service in
// state initial: the address may now belong to a new process, so it must
// pass its health check again.
//
// # Forwarding
//
// Bodiless HTTP/1.x requests that ask for nothing special (no Expect, TE
// or trailers; an Upgrade only on a listener that relays them) take a
// fast path: cutover's own HTTP/1.1 client
// with a pool of keep-alive connections per target (fastforward.go). It
// sends the same request head httputil.ReverseProxy would, and follows
// the same rules for retries, timeouts, errors and outlier accounting.
// Everything else goes through httputil.ReverseProxy. The fast path reads
// responses strictly: framing that is malformed or ambiguous (both
// Content-Length and Transfer-Encoding, differing lengths, a coding other
// than chunked) gets 502, and a body that breaks off cuts the client's
// connection. A connection goes back to its pool only after a response
// was read exactly to its end; pooled connections are checked before use
// (a replayable request skips the check on one idle under 100 ms whose
// last response had a body), and a request that found one closed by its
// target is sent again on a new connection only when that is safe (it
// was not fully written, or it is replayable). A target's pool is closed
// when the target drains.
//
// Groups with Protocol http2, h2c, grpc or grpcs forward over HTTP/2
// (h2target.go; http2 and grpcs over TLS): each target keeps its own
// x/net/http2 connections, so a draining target's connections can get
// GOAWAY and close after their last stream instead of being cut. Their
// writes are gathered (h2batch.go): the frames of a call go out in one
// write instead of one per frame. The fast path never takes them. On a
// gRPC request, an error the proxy answers (or a target's non-gRPC HTTP
// error) becomes a trailers-only gRPC response (grpcerrors.go).
//
// # Idle connections
//
// On plain listeners on Linux, a keep-alive client connection that waits
// for its next request is parked (park.go): its goroutine ends and its
// socket waits in an epoll poller (poll_linux.go) until the request
// comes. Requests on those listeners are read by the listener's own
// HTTP/1.1 server first (h1server_linux.go): a plain request (no body, no
// upgrade, strictly well-formed) it serves itself, with a ResponseWriter
// that writes what net/http's would (h1response.go) and without net/http's
// per-request costs; anything else it hands to net/http with the head
// unread. A connection reads each request head itself and gives net/http
// exactly that head, so net/http never holds an unread byte of a parked
// connection; anything unusual goes to net/http as before and is never
// parked. Upgraded connections
// on those listeners take the fast path and are relayed the same way
// (upgrade.go, relay_linux.go): a direction with nothing to send holds no
// goroutine and no buffer. TLS listeners park and serve their HTTP/1.1
// connections the same way, through crypto/tls (parktls_linux.go), and
// leave HTTP/2 clients and upgrades to net/http and the reverse proxy.
// Other platforms serve every connection with net/http throughout.
//
// # Front-end limits
//
// Each listener caps its open client connections (MaxConnections): at the
// cap it stops accepting and new connections wait in the kernel's backlog.
// A request body that sends nothing for BodyTimeout ends with 408 if no
// body byte was forwarded yet, else with a cut connection. An HTTP/1
// request with a Transfer-Encoding gets Connection: close, as RFC 9112
// requires after one with a Content-Length too (net/http drops that
// before the handler could tell). HTTP/1.0 clients get no 1xx response.
// A request whose header is over the listener's MaxHeaderSize gets 431,
// one whose body is over its group's MaxBodySize 413, and one for which
// every target is at its group's MaxConnectionsPerTarget 503 (caps.go);
// none of them reaches a target.
//
// # Slow start and stickiness
//
// A target that becomes healthy beside other routable ones ramps its
// share up linearly over its group's SlowStart (slowstart.go). A request
// with a sticky cookie (StickyCookie) naming a usable target of one of
// its action's groups goes there before any weighted choice, also to a
// draining target during most of its deregistration delay (sticky.go).
package proxy
