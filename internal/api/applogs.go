package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cutover/cutover/internal/applog"
)

// appLogs streams the merged output of an app's tasks (see package
// applog) as JSON lines (application/x-ndjson), one applog.Line each, in
// time order: ?since= (a duration such as 10m, or an RFC 3339 time),
// ?revision=, ?tail=N, and with ?follow=1 new lines until the client
// goes. Task output passes as the per-task logs route gives it.
func (h *Handler) appLogs(w http.ResponseWriter, r *http.Request) {
	if h.logs == nil {
		problem(w, http.StatusNotImplemented, "this cutover serves no task logs")
		return
	}
	opts, err := appLogOptions(r, time.Now())
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := h.untilClosing(r.Context())
	defer cancel()
	out := &jsonLines{w: w, rc: http.NewResponseController(w), flush: opts.Follow}
	if opts.Follow {
		out.start() // a follower sees the stream open before the first line
	}
	err = applog.New(h.store, h.logs).Stream(ctx, r.PathValue("app"), opts, out.write)
	switch {
	case out.started: // a stream that broke after its start just ends
	case err == nil:
		out.start()
	case errors.Is(err, applog.ErrBadRequest):
		problem(w, http.StatusBadRequest, err.Error())
	default:
		h.fail(w, err)
	}
}

// jsonLines writes an answer of JSON lines, its header with the first.
type jsonLines struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	flush   bool // each batch at once
	started bool
}

func (j *jsonLines) start() {
	if j.started {
		return
	}
	j.started = true
	j.w.Header().Set("Content-Type", "application/x-ndjson")
	j.w.Header().Set("Cache-Control", "no-store")
	j.w.Header().Set("X-Content-Type-Options", "nosniff")
	j.w.WriteHeader(http.StatusOK)
	if j.flush {
		j.rc.Flush()
	}
}

func (j *jsonLines) write(lines []applog.Line) error {
	j.start()
	enc := json.NewEncoder(j.w)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if j.flush {
		return j.rc.Flush()
	}
	return nil
}

// appLogOptions reads the query of an app logs request.
func appLogOptions(r *http.Request, now time.Time) (applog.Options, error) {
	q := r.URL.Query()
	opts := applog.Options{Tail: -1, Revision: q.Get("revision")}
	if v := q.Get("since"); v != "" {
		since, err := applog.ParseSince(v, now)
		if err != nil {
			return opts, err
		}
		opts.Since = since
	}
	var err error
	if opts.Tail, err = queryTail(q); err != nil {
		return opts, err
	}
	opts.Follow, err = queryFollow(q)
	return opts, err
}
