package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// deploymentParts are the blocks of deployment.html the live stream
// sends; the page has an element with sse-swap="<name>" for each.
var deploymentParts = []string{"summary", "steps", "traffic", "metrics", "targets"}

// liveTick is how often an active deployment's page is refreshed even
// without events: the metrics and the chart's time axis move on their own.
const liveTick = time.Second

// deploymentLive streams the deployment page's parts as they change:
// at once after each event of the deployment or of its app's tasks,
// and every liveTick while it is active. Only parts whose HTML changed
// are sent. The stream stays open after the deployment ends, so the
// browser does not reconnect in a loop; it ends with the request or when
// the server shuts down.
func (h *Handler) deploymentLive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := h.store.GetDeployment(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	after, err := h.store.LastEventID(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	events := h.store.Subscribe(ctx, after)
	s, err := startSSE(w)
	if err != nil {
		return
	}

	parts := &liveParts{h: h, s: s, sent: map[string]string{}}
	push := func() (bool, error) { return parts.pushDeployment(ctx, id) }

	active, err := push()
	if err != nil {
		h.log.Warn("live deployment stream", "deployment", id, "error", err)
		return
	}
	tick := time.NewTicker(liveTick)
	defer tick.Stop()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-keepAlive.C:
			err = s.keepAlive()
		case <-tick.C:
			if active {
				active, err = push()
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if relevant(ev, d) {
				active, err = push()
			}
		}
		if err != nil {
			h.log.Debug("live deployment stream ended", "deployment", id, "error", err)
			return
		}
	}
}

// relevant reports whether ev changes what a page of deployment d shows.
func relevant(ev store.Event, d store.Deployment) bool {
	return ev.Deployment == d.ID || (ev.App == d.App && strings.HasPrefix(ev.Type, "task."))
}

// liveParts sends a page's parts over a live stream, each only when it
// changed since it was last sent.
type liveParts struct {
	h    *Handler
	s    *sseStream
	sent map[string]string // part name → the HTML last sent
}

// pushDeployment sends the deployment page's changed parts and reports
// whether the deployment is still active.
func (p *liveParts) pushDeployment(ctx context.Context, id string) (bool, error) {
	v, err := p.h.deploymentView(ctx, id)
	if err != nil {
		return false, err
	}
	for _, part := range deploymentParts {
		html, err := p.h.fragment("deployment", part, v)
		if err != nil {
			return false, err
		}
		if p.sent[part] == html {
			continue
		}
		if err := p.s.send(part, "", html); err != nil {
			return false, err
		}
		p.sent[part] = html
	}
	return v.D.Active(), nil
}
