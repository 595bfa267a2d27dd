package server

import (
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// The pipeline's part of the daemon (package pipeline): the built-in git
// remote and the webhook endpoint are served on the API's TCP listener,
// at /git/<app>.git and /hooks/<app>, with their own authentication (the
// app's pipeline secret, or an API token with the deploy role as the
// password of a push).

// newPipeline makes the pipeline on the server's store and controller.
func (s *Server) newPipeline() *pipeline.Pipeline {
	authn := auth.NewAuthenticator(s.store, s.log)
	opts := pipeline.Options{
		Store:    s.store,
		Deployer: s.controller,
		Alarms:   s.controller,
		Destroy:  s.Destroy,
		DataDir:  s.dataDir,
		Logger:   s.log,
		Sandbox:  s.sandbox,
		// The same secrets file `cutover build` reads.
		SecretsFile: os.Getenv("CUTOVER_SECRETS_FILE"),
		CheckPushToken: func(ctx context.Context, token string) bool {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
			if err != nil {
				return false
			}
			r.Header.Set("Authorization", "Bearer "+token)
			p, err := authn.Authenticate(r)
			return err == nil && p.Allows(store.RoleDeploy)
		},
	}
	// Builds log in to the built-in registry with `aws ecr get-login`:
	// cutover's own executable acts as aws when called by that name.
	opts.BuildRegistry = s.buildRegistry
	if exe, err := os.Executable(); err == nil {
		opts.AWSCLI = exe
	}
	if cli, err := client.New(client.FromEnv); err == nil {
		opts.Images = pipeline.DockerImages{Client: cli}
	}
	return pipeline.New(opts)
}

// Pipeline returns the pipeline.
func (s *Server) Pipeline() *pipeline.Pipeline { return s.pipeline }

// pushURLs returns the URL of an app's built-in git remote on the API's
// TCP listener, "" when there is none. An address on all interfaces is
// named by the machine's host name.
func (s *Server) pushURLs(tcp api.TCPOptions) func(app string) string {
	return func(app string) string {
		addr, ok := s.apiAddr.(*net.TCPAddr)
		if !ok {
			return ""
		}
		host := addr.String()
		if addr.IP.IsUnspecified() {
			name, err := os.Hostname()
			if err != nil {
				name = "localhost"
			}
			host = net.JoinHostPort(name, strconv.Itoa(addr.Port))
		}
		url := pipeline.PushURL(host, app)
		if tcp.CertFile != "" {
			url = "https" + strings.TrimPrefix(url, "http")
		}
		return url
	}
}
