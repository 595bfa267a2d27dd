package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// Releaser lists an app's releases and deploys an earlier one again;
// the Deployer given to New implements it when it can (internal/server
// does).
type Releaser interface {
	Releases(ctx context.Context, app string) (deploy.ReleaseList, error)
	RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error)
}

// releasesView is the release list of an app's page.
type releasesView struct {
	Rows      []releaseRow
	Disk      string // what the app's release directories take
	Retain    int
	CanDeploy bool // the viewer may roll back
}

type releaseRow struct {
	Revision, Short, Commit, Actor, Status, Deployment, Release, Size string
	Created                                                           time.Time
	CanRollback                                                       bool // not running, its release there
}

// releasesOf is the app's release list for its page; nil when this
// cutover keeps none or it cannot be read (logged).
func (h *Handler) releasesOf(ctx context.Context, app string) *releasesView {
	rl, ok := h.deployer.(Releaser)
	if !ok {
		return nil
	}
	l, err := rl.Releases(ctx, app)
	if err != nil {
		h.log.Warn("listing releases for the app page", "app", app, "error", err)
		return nil
	}
	v := &releasesView{Disk: byteSize(l.DiskBytes), Retain: l.Retain}
	if sess := sessionOf(ctx); sess != nil {
		v.CanDeploy = sess.principal.Allows(store.RoleDeploy)
	}
	for _, r := range l.Releases {
		row := releaseRow{Revision: r.Revision, Short: fmt.Sprintf("r%d", r.Number), Commit: r.Commit, Actor: r.Actor,
			Status: r.Status, Deployment: r.Deployment, Release: filepath.Base(r.Artifact), Size: byteSize(r.Size), Created: r.CreatedAt,
			CanRollback: r.Available && r.Status != deploy.ReleaseRunning && r.Status != deploy.ReleaseDeploying}
		switch {
		case r.Image:
			row.Release, row.Size = r.Artifact, "image"
		case !r.Available:
			row.Size = "removed"
		}
		if r.SameAs != "" {
			row.Release += " (= " + r.SameAs + ")"
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

type rollbackConfirm struct {
	App, Revision string
	Release       releaseRow
	CSRF          string
}

// confirmRollbackTo asks "are you sure?" before the rollback button of
// a release does anything.
func (h *Handler) confirmRollbackTo(w http.ResponseWriter, r *http.Request) {
	app, rev := r.PathValue("app"), r.PathValue("revision")
	v := h.releasesOf(r.Context(), app)
	if v == nil {
		h.fail(w, r, fmt.Errorf("app %s: %w", app, store.ErrNotFound))
		return
	}
	for _, row := range v.Rows {
		if row.Revision == rev && row.CanRollback {
			h.render(w, r, http.StatusOK, "rollbackto", "Roll "+app+" back to "+rev+"?", rollbackConfirm{
				App: app, Revision: rev, Release: row, CSRF: sessionOf(r.Context()).csrf,
			})
			return
		}
	}
	h.fail(w, r, fmt.Errorf("revision %s of %s, with its release on disk and not running: %w", rev, app, store.ErrNotFound))
}

// doRollbackTo presses the button: the deployment's page follows it; a
// refusal (a deployment runs, the release is gone) is shown on the app's
// page.
func (h *Handler) doRollbackTo(w http.ResponseWriter, r *http.Request) {
	app, rev := r.PathValue("app"), r.PathValue("revision")
	rl, ok := h.deployer.(Releaser)
	if !ok {
		h.fail(w, r, store.ErrNotFound)
		return
	}
	d, err := rl.RollbackTo(r.Context(), app, rev)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDeploymentInProgress), errors.Is(err, store.ErrInvalid):
		h.render(w, r, http.StatusConflict, "error", "Rollback refused", err.Error())
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	msg := "Rolling back to " + rev + " as " + d.ToRevision + "."
	http.Redirect(w, r, "/deployments/"+url.PathEscape(d.ID)+"?msg="+url.QueryEscape(msg), http.StatusSeeOther)
}

// byteSize is n in B, KiB, MiB or GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}
