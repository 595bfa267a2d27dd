// Package web is cutover's dashboard: server-rendered HTML pages of the
// apps, their deployments and pipeline executions, served by the daemon
// itself on the API's TCP listener.
//
// Pages are html/template files and static assets embedded in the
// binary; there is no build step. Live parts (a deployment in progress,
// a build log) use htmx and its SSE extension, vendored in static/ with
// their licences: the server renders HTML fragments and pushes them as
// server-sent events, and htmx swaps them in. Everything is readable
// without JavaScript; it just does not move.
//
// Reads come from the store, as the API's do, so the dashboard shows the
// same history a restarted cutover sees. Live metrics (error rate, p99)
// come from the load balancer's sliding windows.
//
// Authentication: a person signs in with an API token (see internal/auth).
// The dashboard keeps a server-side session in memory, keyed by a random
// id in a cookie (HttpOnly, SameSite=Strict, Secure over TLS), which
// expires after Options.SessionTTL and ends at once when its token is
// revoked. A session carries the token's role: read can look, deploy can
// press Continue, Stop and Rollback. Every state-changing form carries
// the session's CSRF token (a synchronizer token), checked on POST; the
// login form, which has no session yet, is protected by a double-submit
// cookie. Sessions live in memory, so a restart of cutover signs
// everyone out; that is the price of never writing a session to disk.
package web
