// Package deploy is cutover's control loop: what ECS's service scheduler
// and CodeDeploy's ECS blue/green deployments do, done against cutover's
// own proxy (package proxy) and runtime (package runtime).
//
// A Controller keeps, per app, task sets (the tasks of one revision in one
// target group) at their desired counts, and drives deployments:
//
//   - Service scheduler (scheduler.go): every Tick it copies the proxy's
//     target health into the tasks and, per task set, starts tasks until
//     enough are good and stops the rest. A task that exits or turns
//     unhealthy is replaced start-first: the replacement is started,
//     registered and must be healthy before the old task is deregistered,
//     drained and stopped. Repeated failures back off 1s, 2s, 4s ... 1m
//     until a task has been healthy for a minute; during a rolling update
//     max_percent bounds both revisions' tasks together.
//   - Refused writes (writeback.go): a task state or event the store
//     refuses (a full disk) stays in memory and is written again with
//     back-off; once the store writes again it is reconciled with the
//     runtime.
//   - Blue/green (bluegreen.go): CodeDeploy's lifecycle, BeforeInstall,
//     Install, AfterInstall, AllowTestTraffic, AfterAllowTestTraffic,
//     ReadyWait, BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic,
//     TerminationWait, TerminateOriginal, each recorded as a lifecycle
//     event. Each app has the target groups "<app>-blue" and
//     "<app>-green"; the replacement goes into the one the current
//     revision does not run in, so the roles swap every deployment.
//   - Rolling (rolling_run.go): ECS's rolling update within the current
//     target group, bounded by maximumPercent (rounded down) and
//     minimumHealthyPercent (rounded up), with the circuit breaker.
//   - Rollback: production and test traffic return to the original task
//     set in one Apply, then the replacement is drained and stopped. The
//     original still runs until TerminateOriginal, so a rollback never
//     lands on a pool that runs the new version.
//
// Invariants:
//
//   - A task is registered with the proxy only after the runtime started
//     it, counts as serving only once the proxy finds it healthy, and is
//     stopped only after it was deregistered and drained.
//   - The proxy configuration is built from all apps' state in one
//     function (buildProxyConfig) and applied whole after every change.
//   - Nothing but the store holds state a restart needs; the in-memory
//     state is rebuilt from it (resume.go).
//
// Crash safety. cutover may be killed at any moment; every transition is
// written to the store before it is acted on (write-ahead), in an order
// that is safe to replay:
//
//   - a task is recorded pending before the runtime starts it, running
//     (with its address) after, and registered with the proxy only then;
//     on restart a pending task is stopped (it was never registered), and
//     a task the runtime runs that the store does not list as live is
//     stopped;
//   - a task is recorded draining before it is deregistered; on restart a
//     draining task is stopped at once (the old proxy and its in-flight
//     requests died with the old process);
//   - traffic weights are recorded, then applied; on restart the proxy is
//     configured from the newest recorded weights before anything else,
//     with the tasks the store says were healthy registered as
//     AssumeHealthy, so production serves again at once;
//   - how a deployment ends (stop, rollback, failure, alarm) is recorded
//     in its record before the traffic moves back, so a restart finishes
//     the rollback instead of resuming the rollout;
//   - a lifecycle event found InProgress is run again under the same
//     event: Install waits for health again, the waits wait what is left
//     of them, AllowTraffic resumes after the last recorded weight at the
//     time the next step was due, TerminateOriginal and Rollback finish.
//     A hook that was running is run again: hooks are validation tests
//     and must tolerate a second run. Its progress deadline still counts
//     from the event's first start;
//   - while the store refuses writes no task starts (its pending record
//     comes first); the other task transitions go ahead and are recorded
//     late. A restart before they land reads an older state, which the
//     rules above make safe: a task still pending is stopped, one still
//     running is re-adopted, one the runtime no longer runs is recorded
//     stopped.
//
// Decisions where AWS leaves room are listed in docs/deploy.md.
package deploy
