// Package sandbox runs the code an app brings (its build, its command
// hooks, its process-runtime tasks) away from cutover and from other apps.
//
// A sandboxed command runs under bubblewrap (bwrap) in its own mount, PID,
// IPC and UTS namespaces, sees a root file system made of the host's
// system directories read-only (/usr, /bin, /lib*, /sbin, /etc, /opt), an
// empty /run and /var, its own /tmp, and the directories its caller binds
// in, and nothing else: not cutover's data directory, its sockets, the
// Docker Engine's socket, other apps' files or /home. When cutover runs
// as root, the command also runs as an unprivileged user of its own
// (cutover-build, made on first use), with no capabilities and
// no_new_privs, so that even a file it can name is checked against that
// user. It shares the host's network: builds fetch dependencies and tasks
// listen on their port.
//
// Three modes, chosen once by New and reported by Mode and Reason:
//
//   - ModeFull: cutover is root and bwrap and setpriv are installed: user
//     and namespaces.
//   - ModeNamespaces: cutover is not root, bwrap works with unprivileged
//     user namespaces: namespaces, but the command keeps cutover's user.
//   - ModeOff: bwrap is missing or cannot make namespaces, or the sandbox
//     was turned off: the command runs as cutover's user with the host's
//     file system. Never silent: New says why, and callers print it in the
//     build log, the hook log and cutover's own log.
//
// Invariant: Wrap never widens what a command can reach beyond the binds
// its caller names; a bind's host path is resolved by bwrap running as
// root (ModeFull), so directories inside cutover's 0700 data directory can
// be bound without opening the data directory to anyone.
package sandbox
