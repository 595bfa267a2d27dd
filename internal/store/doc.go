// Package store is cutover's memory: an embedded SQLite database that
// holds every app, revision, task, deployment, lifecycle event and
// traffic weight, and the append-only event log that the API, the CLI,
// the dashboard and a restarted cutover read.
//
// Invariants:
//
//   - Every method that changes state writes its rows and its events in
//     one transaction: the log never tells of a change that did not
//     commit, nor misses one that did. A change that changes nothing
//     writes nothing.
//   - Event IDs grow in commit order (SQLite has one writer at a time),
//     so "every event after ID n" is a gap-free resume point; Subscribe
//     relies on it.
//   - An app has at most one active (Created or InProgress) deployment,
//     enforced in the creating transaction and by a partial unique index.
//   - Nothing else in cutover keeps state a restart needs: what is not
//     here is rebuilt from here.
//
// The database runs in WAL mode with synchronous=NORMAL: a committed
// transaction survives a crash of the process (kill -9), but the last
// transactions before a power loss may be lost (never corrupting the
// file). WithFullSync trades an fsync per commit for surviving that too.
// Writes go through a single connection whose transactions begin
// IMMEDIATE, so concurrent writers in this process queue instead of
// failing with SQLITE_BUSY; reads use a pool of read-only connections.
//
// The schema is migrated forward on Open from the numbered files in
// migrations/, recorded in PRAGMA user_version; a database from a newer
// cutover is refused. docs/store.md describes the schema and the events.
package store
