package store

import "errors"

// Errors the store returns, wrapped with what was being done; test them
// with errors.Is.
var (
	// ErrNotFound: the app, revision, task or deployment does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDeploymentInProgress: the app already has an active (Created or
	// InProgress) deployment.
	ErrDeploymentInProgress = errors.New("a deployment is in progress")
	// ErrConflict: the change contradicts the stored state, e.g. changing
	// the status of a deployment that has ended.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a value is out of its range (an unknown state or
	// status, a missing name, malformed JSON).
	ErrInvalid = errors.New("invalid")
)
