// Package health runs active health checks with the semantics of an AWS
// ALB target group, so that a target gets traffic only after it has proved
// healthy and loses it when it stops answering.
//
// A Checker checks the targets of one target group. Each target has its
// own goroutine that sends GET Path every Interval (jittered by up to
// ±10%), on a schedule that a slow check does not delay, with at most one
// check in flight. A check passes when the status code is in the Matcher
// and the response arrives within Timeout. HealthyThreshold passes in a row
// make a target healthy (also from initial), UnhealthyThreshold failures in
// a row make it unhealthy. Checks never stop while a target is added, also
// when it is healthy.
//
// The package knows nothing about routing: the proxy decides what to do
// with the statuses, including failing open when every target is
// unhealthy. See docs/health.md.
package health
