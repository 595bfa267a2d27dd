package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/cutover/cutover/internal/auth"
)

const (
	sessionCookie = "cutover_session"
	// loginCookie holds the login form's CSRF token (a double-submit
	// cookie: there is no session to tie it to yet).
	loginCookie = "cutover_login"
)

type loginData struct {
	Next  string
	CSRF  string
	Error string
}

// loginForm shows the sign-in form, with a fresh login CSRF token.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token, err := randomString()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, h.cookie(r, loginCookie, token, 0))
	next := r.FormValue("next")
	h.render(w, r, status, "login", "Sign in", loginData{Next: localPath(next), CSRF: token, Error: msg})
}

// login checks the token and the login CSRF token, starts a session and
// sends the browser where it was going.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue(csrfField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		h.showLogin(w, r, http.StatusForbidden, "The form had expired. Please sign in again.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	check := r.Clone(r.Context())
	check.Header = http.Header{"Authorization": {"Bearer " + token}}
	p, err := h.authn.Authenticate(check)
	switch {
	case errors.Is(err, auth.ErrNoToken), errors.Is(err, auth.ErrBadToken), errors.Is(err, auth.ErrRevoked):
		h.log.Info("dashboard sign-in refused", "error", err, "remote", r.RemoteAddr)
		h.showLogin(w, r, http.StatusUnauthorized, "That token is not valid. Create one with `cutover token create --role read`.")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	sess, err := h.sessions.create(p, auth.Hash(token))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("dashboard sign-in", "actor", p.Actor, "role", p.Role)
	http.SetCookie(w, h.cookie(r, loginCookie, "", -1))
	http.SetCookie(w, h.cookie(r, sessionCookie, sess.id, int(h.sessions.ttl.Seconds())))
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.sessions.end(sessionOf(r.Context()).id)
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// cookie returns a dashboard cookie: HttpOnly, SameSite=Strict, Secure
// when served over TLS. maxAge 0 lasts the browser session; < 0 deletes.
func (h *Handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}

// localPath returns next when it is a path on this site, else "/", so
// the login form cannot send anyone elsewhere.
func localPath(next string) string {
	if !isLocalPath(next) {
		return "/"
	}
	return next
}

// isLocalPath reports whether p is an absolute path on this site, both as
// given and once percent-decoded: it starts with a single "/" (not "//" or
// "/\", which browsers read as another host) and holds no backslash and
// no control character (browsers drop tabs and newlines, so "/\t/host"
// would become "//host").
func isLocalPath(p string) bool {
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return false
	}
	for _, s := range []string{p, decoded} {
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") ||
			strings.ContainsRune(s, '\\') || strings.ContainsFunc(s, unicode.IsControl) {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}
