package server

import (
	"net/http"
	"strings"

	"github.com/cutover/cutover/internal/web"
)

// The dashboard's part of the daemon (package web): served on the API's
// TCP listener at every path the API (/api/) and the pipeline (/git/,
// /hooks/) do not use, with its own sign-in (an API token, then a
// session cookie).

// newWeb makes the dashboard on the server's parts.
func (s *Server) newWeb() *web.Handler {
	return web.New(web.Options{
		Store:    s.store,
		Deployer: s,
		Metrics:  s.proxy.Metrics(),
		Pipeline: s.pipeline,
		Logger:   s.log,
	})
}

// withWeb routes the API's and the pipeline's paths to next and the rest
// to the dashboard.
func withWeb(dashboard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, prefix := range []string{"/api/", "/git/", "/hooks/"} {
			if strings.HasPrefix(r.URL.Path, prefix) {
				next.ServeHTTP(w, r)
				return
			}
		}
		dashboard.ServeHTTP(w, r)
	})
}
