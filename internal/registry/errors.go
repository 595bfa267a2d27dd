package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error of the distribution API: an HTTP status and one of
// the spec's error codes, written as {"errors":[{"code","message"}]}.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	type entry struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Errors []entry `json:"errors"`
	}{[]entry{{e.code, e.message}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	w.Write(append(body, '\n'))
}

// Problem is a stored entry the registry could not load as it was: it
// serves the rest, and the entry itself answers an error.
type Problem struct {
	Path string // the file, under Options.Dir
	What string // the entry: "repo:tag", "repo@digest", or the file's name when unknown
	Err  error
}

func (p Problem) String() string { return fmt.Sprintf("%s (%s): %v", p.What, p.Path, p.Err) }
