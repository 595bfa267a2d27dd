package proxy

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/health"
)

// StickyCookie is the cookie the proxy sets for stickiness, as ALB's
// AWSALB. Its value is the target's random stickyID: opaque, and it can
// only name a target registered in one of the request's groups, never an
// address.
//
// A request whose cookie names a target of one of its action's groups
// (weight above 0) that has stickiness goes to that target, without the
// weighted choice between groups: a client stuck to a target of the
// green group stays on green while green has a weight, as with ALB's
// target group stickiness on a forward action. The target must be
// healthy, not ejected and not at its connection cap. A draining target
// still takes its sticky clients until a tenth of its deregistration
// delay (at most 30s) is left, so that the requests they start can
// finish before the delay cuts them; then they move. For that, a draining
// target of a group with stickiness is kept that long also when nothing
// is in flight (Drained closes then, or when its last request ends after
// that). Stickiness is lost when the data plane process is replaced, as
// the ids are random.
const StickyCookie = "CUTOVER_STICKY"

// newStickyID returns a random cookie value naming a target.
func newStickyID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// pickSticky returns the target r's sticky cookie names, with a request
// counted on it, or nil when r has none that may be followed.
func (a *action) pickSticky(r *http.Request) (*targetGroup, *target) {
	if a == nil || !a.sticky {
		return nil, nil
	}
	c, err := r.Cookie(StickyCookie)
	if err != nil {
		return nil, nil
	}
	for _, wg := range a.groups {
		g := wg.group
		s := g.settings.Load()
		t := (*g.sticky.Load())[c.Value]
		if s.sticky.Type == "" || t == nil {
			continue
		}
		if s.sticky.Type == StickyAppCookie {
			if _, err := r.Cookie(s.sticky.CookieName); err != nil {
				return nil, nil // the app's session is over
			}
		}
		if g.acquireSticky(t, s) {
			return g, t
		}
		return nil, nil
	}
	return nil, nil
}

// acquireSticky counts a request on t if a sticky client may still use
// it: healthy, not ejected, not full, and its drain (if any) not over.
func (g *targetGroup) acquireSticky(t *target, s *groupSettings) bool {
	now := time.Now().UnixNano()
	if t.healthStatus() != health.StatusHealthy || t.ejected(now) || t.cut.Err() != nil {
		return false
	}
	if t.draining.Load() && !t.holdsSticky() {
		return false
	}
	if n := t.inFlight.Add(1); (s.maxConns == 0 || n <= s.maxConns) && t.cut.Err() == nil {
		return true
	}
	g.release(t)
	return false
}

// holdsDrains reports whether draining targets are kept for sticky
// clients. Called with g.mu held.
func (g *targetGroup) holdsDrains() bool {
	return g.settings.Load().sticky.Type != "" && !g.retired
}

// maxStickyMargin bounds the end of a draining target's deregistration
// delay in which it takes no new sticky request.
const maxStickyMargin = 30 * time.Second

// openStickyWindow lets sticky clients reach the draining t until a tenth
// of its delay (at most maxStickyMargin) is left: that rest lets the
// requests they started finish before the delay cuts them. When the
// window closes with nothing in flight, the drain is complete. Called
// with g.mu held.
func (g *targetGroup) openStickyWindow(t *target, delay time.Duration) {
	window := delay - min(delay/10, maxStickyMargin)
	t.stickyUntil.Store(time.Now().Add(window).UnixNano())
	t.stickyTimer = time.AfterFunc(window, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if t.draining.Load() && g.targets[t.addr] == t && t.inFlight.Load() == 0 {
			g.finishDrain(t, "no requests in flight at the end of its sticky window")
		}
	})
}

// closeStickyWindow ends t's sticky window. Called with g.mu held.
func (t *target) closeStickyWindow() {
	if t.stickyTimer != nil {
		t.stickyTimer.Stop()
		t.stickyTimer = nil
	}
	t.stickyUntil.Store(0)
}

// holdsSticky reports whether the draining t may still get sticky
// requests, so that it must not finish draining when idle.
func (t *target) holdsSticky() bool {
	until := t.stickyUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// setStickyCookie adds the sticky cookie for the request's target to a
// response from it: always with StickyLBCookie, which so renews it; with
// StickyAppCookie when the target sets the app's cookie.
func (x *exchange) setStickyCookie(h http.Header) {
	if x.status != 0 {
		return // the proxy's own answer
	}
	st := x.group.settings.Load().sticky
	switch st.Type {
	case "":
		return
	case StickyAppCookie:
		if !setsCookie(h, st.CookieName) {
			return
		}
	}
	c := http.Cookie{
		Name: StickyCookie, Value: x.target.stickyID, Path: "/",
		MaxAge: int(st.Duration / time.Second), HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: x.tls,
	}
	h.Add("Set-Cookie", c.String())
}

// setsCookie reports whether a response header sets the cookie name.
func setsCookie(h http.Header, name string) bool {
	for _, v := range h["Set-Cookie"] {
		if n, _, ok := strings.Cut(v, "="); ok && strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}
