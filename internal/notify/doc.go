// Package notify calls webhooks on deployment and pipeline events: it
// follows the store's event log (it does not hook into the deployment
// controller or the pipeline), turns each event it knows into one
// delivery per webhook whose filter selects it, and POSTs the delivery's
// signed JSON body until the receiver takes it or the retries run out.
//
// Invariants:
//
//   - An event becomes deliveries exactly once: the deliveries and the
//     notifier's place in the log are written in one transaction
//     (store.QueueNotifications), so a restart neither skips nor repeats
//     an event. Events from before the notifier's first start are not
//     notified.
//   - Every delivery and attempt is in the store; a pending delivery is
//     resumed after a restart at its recorded next attempt. A receiver may
//     see a delivery twice (cutover stopped after sending, before
//     recording): X-Cutover-Delivery is the same, so it can tell.
//   - A delivery is retried on network errors, timeouts, 5xx and 429,
//     at most MaxAttempts times with exponential backoff (Backoff),
//     waiting at least what Retry-After asks; any other answer ends it.
//   - Bodies carry ids, statuses, times and the error message, never the
//     app's environment: values of its service.env and config vars are
//     masked in the error message.
//   - Only http and https URLs; redirects are not followed to another
//     host; link-local addresses (cloud metadata endpoints) are refused
//     at dial time; the receiver's answer body is never stored or shown.
//
// docs/notifications.md describes the events, the body and how to check
// the signature.
package notify
