package api

import (
	"context"

	"github.com/cutover/cutover/internal/store"
)

// Destroy records the call as the controller's Destroy would begin it.
func (d *scriptedDeployer) Destroy(ctx context.Context, app string) error {
	d.calls.Add(1)
	if d.err != nil {
		return d.err
	}
	if _, err := d.st.GetApp(ctx, app); err != nil {
		return err
	}
	_, err := d.st.Append(ctx, store.Event{Type: "app.destroying", App: app, Actor: store.Actor(ctx)})
	return err
}
