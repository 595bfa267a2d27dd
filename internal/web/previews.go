package web

import (
	"context"
	"errors"

	"github.com/cutover/cutover/internal/store"
)

// previewsOf fills in the app page's preview of (when the app is a
// preview app) and its own preview apps.
func (h *Handler) previewsOf(ctx context.Context, v *appView) error {
	pv, err := h.store.GetPreview(ctx, v.App.Name)
	switch {
	case err == nil:
		v.Preview = &pv
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	v.Previews, err = h.store.ListPreviews(ctx, v.App.Name)
	return err
}
