package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/pipeline/build"
	"github.com/cutover/cutover/internal/registry"
	"github.com/cutover/cutover/internal/store"
)

// The built-in image registry (package registry) on the API's TCP
// listener at /v2/, as OCI registries must be. Its credential is an API
// token given as the password of HTTP basic auth (any user name): the
// deploy role may push, the read role may pull. A pipeline build's
// credential (s.grants) may push to and pull from its app's repository
// only. Blobs and manifests live in <data>/registry and survive a
// restart. A stored entry the registry
// cannot serve is logged and answers an error; it never stops the daemon,
// and neither does a registry that cannot open at all (it answers 503).
// Abandoned uploads are removed by the registry's Run, which runs with the
// controller.

// newRegistry opens the registry, which logs the entries it cannot serve;
// s.registry is nil when it cannot open, and the handler returned then
// answers 503.
func (s *Server) newRegistry() http.Handler {
	reg, err := s.openRegistry()
	if err != nil {
		s.log.Error("the image registry is unavailable", "err", err)
		return unavailable(fmt.Sprintf("the image registry is unavailable: %v", err))
	}
	s.registry = reg
	return reg
}

func (s *Server) openRegistry() (*registry.Registry, error) {
	authn := auth.NewAuthenticator(s.store, s.log)
	return registry.New(registry.Options{
		Dir:    filepath.Join(s.dataDir, "registry"),
		Logger: s.log,
		Authorize: func(r *http.Request, push bool) bool {
			_, token, ok := r.BasicAuth()
			if !ok {
				return false
			}
			if repo, ok := s.grants.Repository(token); ok {
				return grantAllows(repo, r.URL.Path)
			}
			req := r.Clone(r.Context())
			req.Header.Set("Authorization", "Bearer "+token)
			p, err := authn.Authenticate(req)
			if err != nil {
				return false
			}
			if push {
				return p.Allows(store.RoleDeploy)
			}
			return p.Allows(store.RoleRead)
		},
	})
}

// grantAllows says whether a build's grant for repo may make a request
// for path: its repository's, and the version check docker login makes;
// not the catalog nor other repositories.
func grantAllows(repo, path string) bool {
	if path == "/v2/" || path == "/v2" {
		return true
	}
	return registry.Repository(path) == repo
}

// buildRegistry mints a pipeline build's credential of the registry: the
// app's repository only, for ttl or until revoked. The host is the API's
// TCP address as the Docker Engine on this machine reaches it.
func (s *Server) buildRegistry(app string, ttl time.Duration) (build.Registry, func(), error) {
	addr, ok := s.apiAddr.(*net.TCPAddr)
	switch {
	case !ok:
		return build.Registry{}, nil, errors.New("cutover serves no image registry: its API does not listen on TCP (--api-addr)")
	case s.registry == nil:
		return build.Registry{}, nil, errors.New("the image registry is unavailable: it could not open (see cutover's log)")
	}
	host := addr.String()
	if addr.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))
	}
	cred, revoke, err := s.grants.Grant(app, ttl)
	if err != nil {
		return build.Registry{}, nil, err
	}
	return build.Registry{Host: host, Repository: app, Password: cred}, revoke, nil
}

// unavailable answers every request with 503 and msg, as the
// distribution API's error.
func unavailable(msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":%q}]}`+"\n", msg)
	})
}

// tcpRoutes is what the API's TCP listener serves: the API, the
// pipeline's git remote and webhooks, the registry, and the dashboard at
// every other path.
func tcpRoutes(api, pipeline, registry, dashboard http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/git/", pipeline)
	mux.Handle("/hooks/", pipeline)
	mux.Handle("/v2/", registry)
	mux.Handle("/", dashboard)
	return mux
}
