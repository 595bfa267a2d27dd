package server

import (
	"context"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// Releases lists an app's releases (api.Releaser); see
// deploy.Controller.Releases.
func (s *Server) Releases(ctx context.Context, app string) (deploy.ReleaseList, error) {
	return s.controller.Releases(ctx, app)
}

// RollbackTo deploys an earlier revision of an app again, without a
// build; see deploy.Controller.RollbackTo.
func (s *Server) RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error) {
	return s.controller.RollbackTo(ctx, app, revision)
}
