package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Destroy takes the app out of service (see deploy.Controller.Destroy),
// then removes its release directories. The built-in git remote's
// repository is kept: pushing to it again deploys the app anew.
func (s *Server) Destroy(ctx context.Context, app string) error {
	if err := s.controller.Destroy(ctx, app); err != nil {
		return err
	}
	if !filepath.IsLocal(app) || filepath.Base(app) != app {
		return fmt.Errorf("destroying %q: not removing releases outside the releases directory", app)
	}
	if err := os.RemoveAll(filepath.Join(s.dataDir, "releases", app)); err != nil {
		return fmt.Errorf("destroying %s: removing its releases: %w", app, err)
	}
	return nil
}
