package api

import (
	"errors"
	"net/http"

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
	var opts runtime.LogOptions
	var err error
	if opts.Tail, err = queryTail(q); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	if opts.Follow, err = queryFollow(q); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	if _, err := h.store.GetTask(r.Context(), id); err != nil {
		h.fail(w, err)
		return
	}
	ctx, cancel := h.untilClosing(r.Context())
	defer cancel()
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
