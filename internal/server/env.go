package server

import (
	"context"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// ChangeEnv changes an app's config vars (`cutover env set/unset`) and
// releases a change of its tasks' vars; see deploy.Controller.ChangeEnv.
func (s *Server) ChangeEnv(ctx context.Context, app string, ch deploy.EnvChange) (store.Deployment, error) {
	return s.controller.ChangeEnv(ctx, app, ch)
}
