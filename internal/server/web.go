package server

import (
	"github.com/cutover/cutover/internal/web"
)

// The dashboard's part of the daemon (package web): served on the API's
// TCP listener at every path the API (/api/) and the pipeline (/git/,
// /hooks/) do not use, with its own sign-in (an API token, then a
// session cookie).

// newWeb makes the dashboard on the server's parts.
func (s *Server) newWeb() *web.Handler {
	return web.New(web.Options{
		Store:        s.store,
		Deployer:     s,
		Metrics:      s.dp,
		Pipeline:     s.pipeline,
		Logs:         s.driver,
		Certificates: s,
		Logger:       s.log,
	})
}
