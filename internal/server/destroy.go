package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/store"
)

// Destroy takes the app out of service (see deploy.Controller.Destroy),
// then removes its release directories. The built-in git remote's
// repository is kept: pushing to it again deploys the app anew.
//
// The app's preview apps are destroyed first; a preview app destroyed by
// hand is forgotten as a preview (preview.destroyed).
func (s *Server) Destroy(ctx context.Context, app string) error {
	previews, err := s.store.ListPreviews(ctx, app)
	if err != nil {
		return fmt.Errorf("destroying %s: %w", app, err)
	}
	for _, pv := range previews {
		if err := s.Destroy(ctx, pv.App); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("destroying %s: its preview app: %w", app, err)
		}
	}
	if err := s.controller.Destroy(ctx, app); err != nil {
		return err
	}
	if pv, err := s.store.GetPreview(ctx, app); err == nil && pv.Status != store.PreviewDestroying {
		if err := s.store.DeletePreview(ctx, app, "destroyed with cutover apps destroy"); err != nil {
			return fmt.Errorf("destroying %s: %w", app, err)
		}
	}
	if !filepath.IsLocal(app) || filepath.Base(app) != app {
		return fmt.Errorf("destroying %q: not removing releases outside the releases directory", app)
	}
	if err := os.RemoveAll(filepath.Join(s.dataDir, "releases", app)); err != nil {
		return fmt.Errorf("destroying %s: removing its releases: %w", app, err)
	}
	return nil
}
