package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/applog"
	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/proxy/metrics"
	"github.com/cutover/cutover/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deployer carries out the buttons of a deployment page.
type Deployer interface {
	Continue(ctx context.Context, deploymentID string) error
	Stop(ctx context.Context, deploymentID string) error
	Rollback(ctx context.Context, deploymentID string) error
}

// Metrics gives the load balancer's recent stats of a target group;
// *metrics.Registry implements it.
type Metrics interface {
	Window(group string, d time.Duration) metrics.WindowStats
}

// Pipelines gives pipeline executions and their logs;
// *pipeline.Pipeline implements it.
type Pipelines interface {
	Get(ctx context.Context, id string) (store.Execution, error)
	List(ctx context.Context, app string, limit int) ([]store.Execution, error)
	StreamLog(ctx context.Context, executionID string, w io.Writer, follow bool) error
}

// Options are the Handler's dependencies.
type Options struct {
	Store    *store.Store
	Deployer Deployer
	Metrics  Metrics   // nil: no error rate and latency
	Pipeline Pipelines // nil: the pipeline pages say there is none
	// Logs gives the output of tasks, for an app's page; nil: the page
	// shows none. runtime.Driver implements it.
	Logs applog.TaskLogs
	// Certificates lists the ACME certificates; nil: the page says so.
	Certificates Certificates
	Logger       *slog.Logger // nil: discard
	// SessionTTL is how long a sign-in lasts; default 12h.
	SessionTTL time.Duration
}

// DefaultSessionTTL is how long a sign-in lasts unless Options say.
const DefaultSessionTTL = 12 * time.Hour

// Handler serves the dashboard.
type Handler struct {
	store    *store.Store
	deployer Deployer
	metrics  Metrics
	pipeline Pipelines
	logs     applog.TaskLogs
	certs    Certificates
	log      *slog.Logger
	authn    *auth.Authenticator
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
	now      func() time.Time

	closing   chan struct{} // closed by CloseStreams
	closeOnce sync.Once
}

// New returns the dashboard handler. It panics if the embedded templates
// do not parse, which a test catches.
func New(opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ttl := opts.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	h := &Handler{
		store:    opts.Store,
		deployer: opts.Deployer,
		metrics:  opts.Metrics,
		pipeline: opts.Pipeline,
		logs:     opts.Logs,
		certs:    opts.Certificates,
		log:      log,
		authn:    auth.NewAuthenticator(opts.Store, log),
		sessions: newSessions(ttl, time.Now),
		pages:    parsePages(),
		mux:      http.NewServeMux(),
		now:      time.Now,
		closing:  make(chan struct{}),
	}
	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.login)

	h.mux.Handle("POST /logout", h.signedIn(store.RoleRead, h.logout))
	h.mux.Handle("GET /{$}", h.signedIn(store.RoleRead, h.overview))
	h.mux.Handle("GET /apps/{app}", h.signedIn(store.RoleRead, h.appPage))
	h.mux.Handle("GET /apps/{app}/logs/live", h.signedIn(store.RoleRead, h.appLogsLive))
	h.mux.Handle("GET /deployments/{id}", h.signedIn(store.RoleRead, h.deploymentPage))
	h.mux.Handle("GET /deployments/{id}/live", h.signedIn(store.RoleRead, h.deploymentLive))
	h.mux.Handle("GET /deployments/{id}/confirm/{action}", h.signedIn(store.RoleDeploy, h.confirmAction))
	h.mux.Handle("POST /deployments/{id}/{action}", h.signedIn(store.RoleDeploy, h.doAction))
	h.mux.Handle("GET /apps/{app}/maintenance/confirm/{action}", h.signedIn(store.RoleDeploy, h.confirmMaintenance))
	h.mux.Handle("POST /apps/{app}/maintenance/{action}", h.signedIn(store.RoleDeploy, h.doMaintenance))
	h.mux.Handle("GET /apps/{app}/releases/{revision}/confirm", h.signedIn(store.RoleDeploy, h.confirmRollbackTo))
	h.mux.Handle("POST /apps/{app}/releases/{revision}/rollback", h.signedIn(store.RoleDeploy, h.doRollbackTo))
	h.mux.Handle("GET /pipelines", h.signedIn(store.RoleRead, h.executions))
	h.mux.Handle("GET /pipelines/{id}", h.signedIn(store.RoleRead, h.executionPage))
	h.mux.Handle("GET /pipelines/{id}/live", h.signedIn(store.RoleRead, h.executionLive))
	h.mux.Handle("GET /pipelines/{id}/log", h.signedIn(store.RoleRead, h.executionLog))
	h.mux.Handle("GET /pipelines/{id}/confirm/override", h.signedIn(store.RoleAdmin, h.confirmOverride))
	h.mux.Handle("POST /pipelines/{id}/override", h.signedIn(store.RoleAdmin, h.doOverride))
	h.mux.Handle("GET /notifications", h.signedIn(store.RoleRead, h.notifications))
	h.mux.Handle("GET /certificates", h.signedIn(store.RoleRead, h.certificates))
	h.mux.Handle("GET /env", h.signedIn(store.RoleRead, h.envPage))
	return h
}

// ServeHTTP serves the dashboard's pages.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// CloseStreams ends the live updates being served, so that
// http.Server.Shutdown does not wait for browsers that never hang up.
// Register it with RegisterOnShutdown.
func (h *Handler) CloseStreams() {
	h.closeOnce.Do(func() { close(h.closing) })
}

type sessionKey struct{}

// signedIn runs next for a request with a live session whose role
// includes role. Without one, a GET is sent to the login page and
// anything else is refused; a POST must carry the session's CSRF token.
func (h *Handler) signedIn(role string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := h.session(r)
		if sess == nil {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first: /login", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && !sess.validCSRF(r.PostFormValue(csrfField)) {
			http.Error(w, "this form is missing its CSRF token or has a stale one: reload the page and try again", http.StatusForbidden)
			return
		}
		if !sess.principal.Allows(role) {
			h.render(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)), http.StatusForbidden, "error", "Not allowed",
				fmt.Sprintf("%s has role %s; this needs the %s role.", sess.principal.Actor, sess.principal.Role, role))
			return
		}
		ctx := auth.WithPrincipal(r.Context(), sess.principal)
		next(w, r.WithContext(context.WithValue(ctx, sessionKey{}, sess)))
	})
}

// session returns the request's live session: its cookie names one that
// has not expired, signed in with a token that is still valid.
func (h *Handler) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	sess := h.sessions.get(c.Value)
	if sess == nil {
		return nil
	}
	tk, err := h.store.TokenByHash(r.Context(), sess.tokenHash)
	if err != nil || tk.Revoked() {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.Error("checking a session's token", "error", err)
			return nil // keep the session: the store may answer again
		}
		h.sessions.end(sess.id)
		return nil
	}
	if now := h.now(); now.Sub(tk.LastUsedAt) >= time.Minute { // as auth records API use
		if err := h.store.TouchToken(context.WithoutCancel(r.Context()), tk.ID, now); err != nil {
			h.log.Warn("recording a token's use", "token", tk.Name, "error", err)
		}
	}
	return sess
}

// sessionOf returns the session signedIn put in ctx.
func sessionOf(ctx context.Context) *session {
	sess, _ := ctx.Value(sessionKey{}).(*session)
	return sess
}

// fail answers err as an error page with the status its kind means.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	default:
		h.log.Error("dashboard page failed", "path", r.URL.Path, "error", err)
	}
	h.render(w, r, status, "error", http.StatusText(status), err.Error())
}
