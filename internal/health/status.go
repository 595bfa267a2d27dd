package health

import (
	"strconv"
	"time"
)

// Status is a target's health as this package sees it. The proxy adds its
// own states (draining, unused) on top.
type Status int

const (
	// StatusInitial: the target was added and has not yet passed
	// HealthyThreshold or failed UnhealthyThreshold checks in a row.
	StatusInitial Status = iota
	// StatusHealthy: the target passed HealthyThreshold checks in a row
	// and has not since failed UnhealthyThreshold in a row.
	StatusHealthy
	// StatusUnhealthy: the target failed UnhealthyThreshold checks in a row
	// and has not since passed HealthyThreshold in a row.
	StatusUnhealthy
)

func (s Status) String() string {
	switch s {
	case StatusInitial:
		return "initial"
	case StatusHealthy:
		return "healthy"
	case StatusUnhealthy:
		return "unhealthy"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Reason codes, as ALB reports them in TargetHealth.Reason.
const (
	// ReasonInitialHealthChecking: the target is initial.
	ReasonInitialHealthChecking = "Elb.InitialHealthChecking"
	// ReasonResponseCodeMismatch: the status code is not in the Matcher.
	ReasonResponseCodeMismatch = "Target.ResponseCodeMismatch"
	// ReasonTimeout: no response within Timeout.
	ReasonTimeout = "Target.Timeout"
	// ReasonFailedHealthChecks: the connection failed or the response was
	// not valid HTTP.
	ReasonFailedHealthChecks = "Target.FailedHealthChecks"
	// ReasonHealthCheckDisabled: Config.Disabled is set; the target is
	// healthy without being checked.
	ReasonHealthCheckDisabled = "Target.HealthCheckDisabled"
)

// Result is a target's status together with its latest check.
type Result struct {
	Target string // host:port, as given to Add
	Status Status
	// Reason explains Status: ReasonInitialHealthChecking while initial,
	// the reason of the latest failed check while unhealthy, empty while
	// healthy (ReasonHealthCheckDisabled when checks are disabled).
	Reason string
	// Code is the status code of the latest check, 0 if it got none.
	Code int
	// Err is why the latest check failed, nil if it passed or none ran.
	Err error
	// At is when the latest check finished, or when the target was added
	// if no check has finished yet.
	At time.Time
}
