package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// RollbackTo deploys an earlier revision of app again, as a new
// revision, through the app's normal strategy (blue/green or rolling,
// health-gated, rolled back on failure), without a build: the earlier
// revision's release directory or image and its configuration as
// recorded, with two things of today: the app's current config vars
// (`cutover env`, see withKept) and its current task count. Its hooks run
// in its release directory (process runtime). It refuses
// an unknown app or revision, the revision already running, a revision
// whose release directory retention removed, and an app with a
// deployment running; a refusal changes nothing.
func (c *Controller) RollbackTo(ctx context.Context, app, revision string) (store.Deployment, error) {
	fail := func(err error) (store.Deployment, error) {
		return store.Deployment{}, fmt.Errorf("rolling %s back to %s: %w", app, revision, err)
	}
	if err := c.waitStarted(ctx); err != nil {
		return fail(err)
	}
	id, err := revisionID(app, revision)
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	a := c.apps[app]
	var current string
	var count int
	if a != nil {
		current, count = a.current, a.cfg.Service.Count
	}
	c.mu.Unlock()
	if a == nil {
		return fail(fmt.Errorf("%w: no such app", store.ErrNotFound))
	}
	if err := c.refuseActive(ctx, app); err != nil {
		return fail(err)
	}
	rev, err := c.store.GetRevision(ctx, id)
	if err != nil {
		return fail(fmt.Errorf("%w; `cutover releases %s` lists its revisions", err, app))
	}
	if rev.ID == current {
		return fail(fmt.Errorf("%w: %s is the running revision", store.ErrConflict, rev.ID))
	}
	cfg, err := c.earlierConfig(rev)
	if err != nil {
		return fail(err)
	}
	cfg.Service.Count = count
	if !c.isImage(rev) {
		// Hooks run in the app's directory, which may have changed or be
		// gone (a pipeline's workspace is); the release holds the app's
		// files as they were.
		cfg.Dir = rev.Artifact
	}
	return c.Deploy(ctx, app, RevisionSpec{Artifact: rev.Artifact, Commit: rev.Commit, Config: &cfg, Earlier: rev.ID})
}

// earlierConfig returns rev's configuration, once its release is known
// to be there.
func (c *Controller) earlierConfig(rev store.Revision) (config.App, error) {
	var cfg config.App
	if len(rev.Config) == 0 {
		return cfg, fmt.Errorf("%w: revision %s has no recorded configuration", store.ErrConflict, rev.ID)
	}
	if err := json.Unmarshal(rev.Config, &cfg); err != nil {
		return cfg, fmt.Errorf("reading the configuration of %s: %w", rev.ID, err)
	}
	if c.isImage(rev) {
		return cfg, nil // the runtime pulls it; an image gone fails the Install step
	}
	fi, err := os.Stat(rev.Artifact)
	if err != nil || !fi.IsDir() {
		return cfg, fmt.Errorf("%w: the release directory of %s (%s) is gone, removed by retention (keeps %d); deploy its commit %s again instead",
			store.ErrConflict, rev.ID, rev.Artifact, c.retain(), shortCommit(rev.Commit))
	}
	return cfg, nil
}

func shortCommit(commit string) string {
	if commit == "" {
		return "(none recorded)"
	}
	return commit[:min(len(commit), 12)]
}

// pruneReleases removes the app's release directories beyond the newest
// c.retain() (see the invariants at the top of releases.go). It runs
// after each successful deployment; what it cannot remove is logged and
// left for the next time.
func (c *Controller) pruneReleases(ctx context.Context, app string) {
	keep := c.retain()
	if keep == 0 || c.dataDir == "" {
		return
	}
	hist, err := c.store.ReleaseHistory(ctx, app)
	if err != nil {
		c.log.Warn("release retention: listing the releases", "app", app, "err", err)
		return
	}
	live, err := c.store.ListTasks(ctx, store.TaskFilter{App: app, Live: true})
	if err != nil {
		c.log.Warn("release retention: listing the live tasks", "app", app, "err", err)
		return
	}
	kept := c.keptArtifacts(app, hist, live, keep)
	root := c.releaseRoot(app)
	for _, h := range hist {
		dir := h.Artifact
		if kept[dir] || filepath.Dir(dir) != root || strings.HasPrefix(filepath.Base(dir), ".") {
			continue
		}
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			continue // gone already, or not a directory of ours
		}
		kept[dir] = true // once
		c.sizes.forget(dir)
		if err := os.RemoveAll(dir); err != nil {
			c.log.Warn("release retention: removing a release", "app", app, "release", dir, "err", err)
			continue
		}
		c.log.Info("release retention: removed a release", "app", app, "revision", h.ID, "release", dir, "retain", keep)
		c.event(ctx, EventReleaseRemoved, app, "", ReleaseRemoved{Revision: h.ID, Artifact: dir, Retain: keep})
	}
}

// EventReleaseRemoved records a release directory retention removed.
const EventReleaseRemoved = "release.removed"

// ReleaseRemoved is the data of a release.removed event.
type ReleaseRemoved struct {
	Revision string `json:"revision"` // the newest revision that used it
	Artifact string `json:"artifact"`
	Retain   int    `json:"retain"`
}

// keptArtifacts returns the artifacts retention keeps: those of the
// newest keep distinct releases, and those of the current and previous
// revisions, of revisions whose task sets have or want tasks, of the
// active deployment, and of every task the store lists as not stopped:
// one-off tasks, and draining tasks a restart found, belong to no set.
// (A set stopped to its last task is dropped by the next reconcile; its
// release is free before that.)
func (c *Controller) keptArtifacts(app string, hist []store.RevisionHistory, live []store.Task, keep int) map[string]bool {
	protected := map[string]bool{}
	for _, t := range live {
		protected[t.Revision] = true
	}
	current := ""
	c.mu.Lock()
	if a := c.apps[app]; a != nil {
		current = a.current
		for _, s := range a.sets {
			if s.desired > 0 || len(s.tasks) > 0 {
				protected[s.rev.ID] = true
			}
		}
		if a.run != nil {
			protected[a.run.d.FromRevision], protected[a.run.d.ToRevision] = true, true
		}
	}
	c.mu.Unlock()
	protected[current] = true
	if prev := previousRevision(hist, current); prev != "" {
		protected[prev] = true
	}
	kept := map[string]bool{}
	distinct := 0
	for _, h := range hist {
		if !kept[h.Artifact] && distinct < keep {
			kept[h.Artifact] = true
			distinct++
		}
		if protected[h.ID] {
			kept[h.Artifact] = true
		}
	}
	return kept
}
