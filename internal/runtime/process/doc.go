// Package process is cutover's embedded default runtime: it runs an app's
// tasks as local processes, the way ECS runs tasks, so no Docker is needed.
//
// A task is one process started from TaskSpec.Command in TaskSpec.Dir. It
// gets a free host port as PORT and is reached at 127.0.0.1:<port>.
//
// Invariants:
//
//   - A task outlives cutover. It runs in its own session and process group
//     (setsid), without a parent-death signal, and writes stdout and stderr
//     to pipes read by its log writer (Options.LogWriter, see
//     logwriter.go), a process of its own session that outlives cutover
//     too, not to cutover, so nothing breaks when cutover exits. Killing
//     cutover, even with SIGKILL, leaves its tasks running. Without a log
//     writer, a task writes straight to its log file (O_APPEND).
//   - A task's log holds one record a line: the time the line was read,
//     its stream, and the line (runtime.LogLine, the format of the
//     Kubernetes CRI's logs); Logs gives the bare output or, with
//     LogOptions.Timestamps, the records. Lines that are not records (a
//     log written without a log writer) are read as they are, with an
//     unknown time.
//   - A task is identified by its pid and the process start time (field 22
//     of /proc/<pid>/stat), so a reused pid is never taken for the task.
//   - Everything the driver knows lives in StateDir: <id>.json (written
//     atomically, temp file + rename) and <id>.log with its rotated copies
//     <id>.log.1 to <id>.log.3. Remove deletes the state file and leaves
//     the logs, readable with Logs, for Options.LogRetention (default 1h). A new Driver on the same StateDir re-adopts
//     the tasks that still run and reports those that died meanwhile as
//     exited ("exited while cutover was not watching").
//   - A task is its process group: Stop signals the whole group (SIGTERM,
//     then SIGKILL after the timeout), and when a task's main process ends
//     for any reason, whatever is left of its group is killed, so no
//     orphan keeps the port or the log file.
//     A process that leaves the group (setsid or setpgid of its own)
//     escapes both.
//   - No two live tasks of a driver, adopted ones included, share a port,
//     and a port is bound (127.0.0.1 and the wildcard address) before it
//     is handed out, so ports used by other programs are skipped.
//
// Under systemd, cutover's unit needs KillMode=process (or mixed):
// with the default, control-group, restarting cutover kills its tasks,
// which share its cgroup.
//
// Exits are watched through a pidfd (poll via Go's netpoller), falling back
// to polling /proc every 250ms where pidfds are unavailable. Only a
// process's parent can read its exit status, so a task adopted from an
// earlier cutover process ends with Code -1 and an unknown signal.
//
// Environment: a task gets PATH, HOME, USER, LOGNAME, SHELL, TMPDIR, TZ,
// LANG and LC_* from cutover's environment (not the rest of it, which may
// hold cutover's own secrets), then TaskSpec.Env, then PORT,
// CUTOVER_TASK_ID, CUTOVER_APP and CUTOVER_REVISION, which the driver
// sets and which win over TaskSpec.Env. A Command without a slash is
// looked up in cutover's PATH; a relative path is relative to Dir.
//
// Log rotation is copytruncate-style, because the task holds the log's file
// descriptor: while the driver runs it checks each running task's log every
// Options.LogCheckInterval and, above Options.LogMaxBytes, copies it to
// .1 (shifting .1 to .2 and .2 to .3), then truncates it; the task's next
// O_APPEND write lands at offset 0. Output written between the copy and
// the truncation is lost. While no driver runs, logs are not rotated.
//
// Resource limits are best effort, through cgroup v2: when the unified
// hierarchy is mounted and the memory and cpu controllers can be enabled
// under Options.CgroupParent (default: cutover's own cgroup, which works
// only when it holds no processes, e.g. a delegated systemd cgroup whose
// processes live in a child), each task with limits gets its own cgroup
// <parent>/cutover/<task-id> with memory.max and cpu.max, and starts in it
// (clone3 with CLONE_INTO_CGROUP). Otherwise, as on hosts with the cgroup
// v1 or hybrid layout, the task runs without limits and the driver logs a
// warning for it.
//
// A task that exits within Options.StartCheck is a failed start: Start
// returns runtime.ErrStartFailed with its exit and the last lines of its
// output, and the driver forgets the task and deletes its files. Remove
// deletes an exited task's state file; its logs go after
// Options.LogRetention.
package process
