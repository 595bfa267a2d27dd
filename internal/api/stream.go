package api

import (
	"context"
	"errors"
	"net/url"
	"strconv"
)

// untilClosing returns a context for a streaming answer: it ends with
// the request, or when CloseStreams is called because cutover is shutting
// down.
func (h *Handler) untilClosing(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-h.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// queryTail reads ?tail=N, a number of lines; -1 when absent.
func queryTail(q url.Values) (int, error) {
	v := q.Get("tail")
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("tail must be a number of lines, 0 or more")
	}
	return n, nil
}

// queryFollow reads ?follow=1 (or true, 0, false).
func queryFollow(q url.Values) (bool, error) {
	switch q.Get("follow") {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, errors.New("follow must be 1 or 0")
}
