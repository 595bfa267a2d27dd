package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy/metrics"
)

// Limits that protect the targets and the proxy, besides the listener's
// MaxConnections (limit.go) and BodyTimeout:
//
//   - MaxHeaderSize per listener: a request whose line and header fields
//     are larger gets 431 and reaches no target. net/http itself answers
//     431, uncounted, above MaxMaxHeaderSize.
//   - MaxBodySize per target group: a request whose Content-Length is
//     larger gets 413 before any of it reaches a target. A body of unknown
//     length (chunked, or HTTP/2 without content-length) is streamed; when
//     it passes the limit, the request to the target is aborted there, so
//     the target never gets more than the limit nor a complete request,
//     and the client gets 413 (if the target has not answered yet) and a
//     closed connection.
//   - MaxConnectionsPerTarget per target group: a target with that many
//     requests and upgraded connections in flight gets no new one; the
//     balancer picks another target, and when every target is full the
//     request gets 503 at once. Requests do not queue: a queue would hold
//     client connections and memory in the proxy while the clients wait,
//     and a 503 tells a client (or the next proxy) at once to try later.
//
// Each refusal is counted in cutover_limit_refusals_total by listener
// and limit, and as a request with its status.

// headerSize is the size of r's request line and header fields as
// received, less optional whitespace.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	if r.Host != "" && r.ProtoMajor == 1 {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n + 2
}

// refuseHeader answers 431 when r's header is over the listener's cap.
func (l *listener) refuseHeader(w http.ResponseWriter, r *http.Request, name string, start time.Time) bool {
	limit := int(l.maxHeaderSize.Load())
	if limit == 0 || headerSize(r) <= limit {
		return false
	}
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	writeError(w, http.StatusRequestHeaderFieldsTooLarge,
		"431 Request Header Fields Too Large: the request header is over "+strconv.Itoa(limit)+" bytes\n")
	l.metrics.Refused(name, metrics.LimitHeaderSize)
	l.metrics.Observe(metrics.Observation{
		Listener: name, Status: http.StatusRequestHeaderFieldsTooLarge,
		ProxyError: true, Duration: time.Since(start),
	})
	return true
}

// refuseBody answers 413 when r declares a body larger than the chosen
// group allows; the request counted on t is released unsent.
func (l *listener) refuseBody(w http.ResponseWriter, r *http.Request, name string, g *targetGroup, t *target, start time.Time) bool {
	limit := g.settings.Load().maxBodySize
	if limit == 0 || r.ContentLength <= limit {
		return false
	}
	g.release(t)
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close") // the body is left unread
	}
	writeError(w, http.StatusRequestEntityTooLarge, tooLargeMessage(limit))
	l.metrics.Refused(name, metrics.LimitBodySize)
	l.metrics.Observe(metrics.Observation{
		Listener: name, TargetGroup: g.name, Status: http.StatusRequestEntityTooLarge,
		ProxyError: true, Duration: time.Since(start),
	})
	return true
}

func tooLargeMessage(limit int64) string {
	return "413 Content Too Large: the request body is over " + strconv.FormatInt(limit, 10) + " bytes\n"
}

// bodyTooLarge answers a request whose body of unknown length went past
// its group's limit while it was being forwarded.
func bodyTooLarge(w http.ResponseWriter, x *exchange) {
	x.status = http.StatusRequestEntityTooLarge
	x.metrics.Refused(x.listener, metrics.LimitBodySize)
	w.Header().Set("Connection", "close")
	writeError(w, x.status, tooLargeMessage(x.body.limit))
}

// full reports whether the action found no target because its targets
// are at their connection cap: a group with a cap has a healthy target
// that is not draining. pick passes over such a target only when it is
// full; whether it still is, is not asked again, since a slot it found
// taken may be free by now.
func (a *action) full() bool {
	for _, wg := range a.groups {
		if wg.group.settings.Load().maxConns == 0 {
			continue
		}
		for _, t := range *wg.group.active.Load() {
			if t.healthStatus() == health.StatusHealthy && !t.draining.Load() {
				return true
			}
		}
	}
	return false
}
