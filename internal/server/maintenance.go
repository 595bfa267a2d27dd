package server

import (
	"context"

	"github.com/cutover/cutover/internal/store"
)

// SetMaintenance turns an app's maintenance mode on (see
// deploy.Controller.SetMaintenance).
func (s *Server) SetMaintenance(ctx context.Context, app, page string, retryAfter int) (store.Maintenance, error) {
	return s.controller.SetMaintenance(ctx, app, page, retryAfter)
}

// ClearMaintenance turns an app's maintenance mode off.
func (s *Server) ClearMaintenance(ctx context.Context, app string) error {
	return s.controller.ClearMaintenance(ctx, app)
}
