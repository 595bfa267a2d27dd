package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/cutover/cutover/internal/runtime"
)

// taskLogs streams a task's output as text: the last ?tail=N lines (all
// when absent), then with ?follow=1 new output until the client goes.
func (h *Handler) taskLogs(w http.ResponseWriter, r *http.Request) {
	if h.logs == nil {
		problem(w, http.StatusNotImplemented, "this cutover serves no task logs")
		return
	}
	q := r.URL.Query()
	opts := runtime.LogOptions{Tail: -1}
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			problem(w, http.StatusBadRequest, "tail must be a number of lines, 0 or more")
			return
		}
		opts.Tail = n
	}
	switch q.Get("follow") {
	case "", "0", "false":
	case "1", "true":
		opts.Follow = true
	default:
		problem(w, http.StatusBadRequest, "follow must be 1 or 0")
		return
	}
	id := r.PathValue("id")
	if _, err := h.store.GetTask(r.Context(), id); err != nil {
		h.fail(w, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-h.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	rc, err := h.logs.Logs(ctx, id, opts)
	if errors.Is(err, runtime.ErrNotFound) {
		problem(w, http.StatusNotFound, "task "+id+" has no logs on this host: "+err.Error())
		return
	} else if err != nil {
		h.fail(w, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rw := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if opts.Follow {
				rw.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
