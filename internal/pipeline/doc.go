// Package pipeline is cutover's CodePipeline: a commit arrives (a push to
// cutover's own git remote, a forge webhook, polling, or a manual start),
// and an execution takes it through the stages Source -> Build ->
// optional manual Approval -> Deploy.
//
// Invariants:
//   - Every execution has its own clean workspace; nothing of one build
//     leaks into the next except the buildspec's cache paths.
//   - A stage holds one execution at a time. An execution that finished a
//     stage releases it and waits in front of the next one. In SUPERSEDED
//     mode (the default) a newer execution waiting in front of a stage
//     replaces an older waiting one, which ends Superseded; in QUEUED mode
//     they enter in order.
//   - A failed build never reaches Deploy, so production keeps running
//     the revision it ran.
//   - Every change of an execution or a stage is written to the store,
//     with its event, before anyone can observe it; build output goes to
//     the execution's log file and to whoever follows it.
//
// The deployment itself is the controller's (package deploy): the Deploy
// stage packages the build (an immutable release directory, or a Docker
// image), starts a deployment and follows it to its end.
package pipeline
