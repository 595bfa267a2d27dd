package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Releases an app can go back to: `cutover releases` lists an app's
// revisions with their status and the size of their release, RollbackTo
// deploys an earlier one again without a build, and retention removes
// the release directories of old revisions after each successful
// deployment.
//
// A release directory (<data>/releases/<app>/<digest>) is named by its
// contents, so several revisions may share one (an env change, a
// rollback): retention counts distinct release directories, newest use
// first, and removes a directory only when no kept revision uses it.
// Invariants: retention never removes the release of the running
// revision, of the previous one, of a revision with task sets or with
// tasks the store lists as not stopped (one-off tasks too), or of the
// source or target of an active deployment; it removes only directories
// directly under <data>/releases/<app>/ that a revision of the app names
// (a snapshot not yet deployed is never one of them). Images are never
// removed (docs/deploy.md says why).

// DefaultRetainReleases is how many releases per app retention keeps
// when Options.RetainReleases is 0.
const DefaultRetainReleases = 10

// Release statuses, as `cutover releases` shows them.
const (
	ReleaseRunning       = "running"        // the app's current revision
	ReleaseDeploying     = "deploying"      // the target of the active deployment
	ReleasePrevious      = "previous"       // what ran before the current revision
	ReleaseRetired       = "retired"        // ran once, replaced since
	ReleaseFailed        = "failed"         // its deployment failed
	ReleaseRolledBack    = "rolled_back"    // its deployment was rolled back
	ReleaseStopped       = "stopped"        // its deployment was stopped
	ReleaseNeverDeployed = "never_deployed" // no deployment to it was recorded
)

// Release is one revision of an app as `cutover releases` lists it.
type Release struct {
	Revision   string    `json:"revision"`
	Number     int       `json:"number"`
	Commit     string    `json:"commit,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Actor      string    `json:"actor,omitempty"`      // who started its newest deployment, if recorded
	Deployment string    `json:"deployment,omitempty"` // its newest deployment
	Status     string    `json:"status"`               // one of the Release* statuses
	Artifact   string    `json:"artifact"`             // its release directory or image
	Image      bool      `json:"image,omitempty"`      // Artifact is an image reference
	// Available: the release directory is on disk (an image is assumed
	// to be); RollbackTo refuses a revision whose release is gone.
	Available bool  `json:"available"`
	Size      int64 `json:"size_bytes,omitempty"` // of the release directory
	// SameAs is the oldest revision with the same release, when it is
	// not this one (an env change, a rollback).
	SameAs string `json:"same_as,omitempty"`
}

// ReleaseList is an app's releases, newest first, and what they take.
type ReleaseList struct {
	App      string    `json:"app"`
	Retain   int       `json:"retain"` // releases kept per app; 0 keeps all
	Releases []Release `json:"releases"`
	// DiskBytes is the size of every release directory of the app on
	// disk (<data>/releases/<app>), also those no revision names.
	DiskBytes int64 `json:"disk_bytes"`
}

// retain is how many releases per app retention keeps; 0 keeps all.
func (c *Controller) retain() int {
	switch {
	case c.retainReleases == 0:
		return DefaultRetainReleases
	case c.retainReleases < 0:
		return 0
	}
	return c.retainReleases
}

// releaseRoot is where the app's release directories are.
func (c *Controller) releaseRoot(app string) string {
	return filepath.Join(c.dataDir, "releases", app)
}

// Releases lists the app's revisions, newest first, with their status
// and release.
func (c *Controller) Releases(ctx context.Context, app string) (ReleaseList, error) {
	if _, err := c.store.GetApp(ctx, app); err != nil {
		return ReleaseList{}, fmt.Errorf("listing the releases of %s: %w", app, err)
	}
	hist, err := c.store.ReleaseHistory(ctx, app)
	if err != nil {
		return ReleaseList{}, err
	}
	current, active := c.appRevisions(ctx, app)
	list := ReleaseList{App: app, Retain: c.retain(), Releases: make([]Release, 0, len(hist))}
	first := map[string]string{} // artifact -> its oldest revision
	for i := len(hist) - 1; i >= 0; i-- {
		if _, ok := first[hist[i].Artifact]; !ok {
			first[hist[i].Artifact] = hist[i].ID
		}
	}
	previous := previousRevision(hist, current)
	for _, h := range hist {
		r := Release{
			Revision: h.ID, Number: h.Number, Commit: h.Commit, CreatedAt: h.CreatedAt, Actor: h.Actor,
			Deployment: h.Deployment.ID, Artifact: h.Artifact, Image: c.isImage(h.Revision), Available: true,
			Status: releaseStatus(h, current, previous, active),
		}
		if first[h.Artifact] != h.ID {
			r.SameAs = first[h.Artifact]
		}
		if !r.Image {
			r.Size, r.Available = c.releaseSize(h.Artifact)
		}
		list.Releases = append(list.Releases, r)
	}
	list.DiskBytes = c.diskBytes(c.releaseRoot(app))
	return list, nil
}

// appRevisions returns the app's current revision and the target of its
// active deployment ("" when none).
func (c *Controller) appRevisions(ctx context.Context, app string) (current, deploying string) {
	if a, err := c.store.GetApp(ctx, app); err == nil {
		current = a.CurrentRevision
	}
	if d, err := c.store.ActiveDeployment(ctx, app); err == nil {
		deploying = d.ToRevision
	}
	return current, deploying
}

// previousRevision is what ran before current: the source of the
// successful deployment that made it current.
func previousRevision(hist []store.RevisionHistory, current string) string {
	for _, h := range hist {
		if h.ID == current && h.Deployment.Status == store.DeploymentSucceeded {
			return h.Deployment.FromRevision
		}
	}
	return ""
}

func releaseStatus(h store.RevisionHistory, current, previous, deploying string) string {
	switch {
	case h.ID == deploying:
		return ReleaseDeploying
	case h.ID == current:
		return ReleaseRunning
	case h.ID == previous:
		return ReleasePrevious
	}
	switch h.Deployment.Status {
	case "":
		return ReleaseNeverDeployed
	case store.DeploymentSucceeded:
		return ReleaseRetired
	case store.DeploymentRolledBack:
		return ReleaseRolledBack
	case store.DeploymentStopped:
		return ReleaseStopped
	}
	return ReleaseFailed
}

// isImage reports whether the revision's artifact is an image.
func (c *Controller) isImage(rev store.Revision) bool {
	var cfg config.App
	if json.Unmarshal(rev.Config, &cfg) == nil && (cfg.Service.Runtime == config.RuntimeDocker || cfg.Service.Runtime == config.RuntimeSwarm) {
		return true
	}
	return false
}

// releaseSize returns the size of the release directory artifact, and
// whether it is on disk. A directory outside the app's release root
// (cutover.yaml's own service.release) is measured too. A release
// directory never changes, so its size is measured once (the app's page
// asks every few seconds).
func (c *Controller) releaseSize(artifact string) (int64, bool) {
	if artifact == "" {
		return 0, false
	}
	fi, err := os.Lstat(artifact)
	if err != nil || !fi.IsDir() {
		return 0, false
	}
	return c.sizes.of(artifact)
}

// diskBytes is what the release directories under root take.
func (c *Controller) diskBytes(root string) int64 {
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // a release being written
		}
		size, _ := c.sizes.of(filepath.Join(root, e.Name()))
		total += size
	}
	return total
}

// sizeCache remembers the sizes of release directories, which are
// immutable. Its zero value is ready.
type sizeCache struct {
	mu sync.Mutex
	m  map[string]int64
}

// of returns dir's size, measured at its first call.
func (s *sizeCache) of(dir string) (int64, bool) {
	s.mu.Lock()
	size, ok := s.m[dir]
	s.mu.Unlock()
	if ok {
		return size, true
	}
	size, err := dirSize(dir)
	if err != nil {
		return 0, false
	}
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]int64{}
	}
	s.m[dir] = size
	s.mu.Unlock()
	return size, true
}

// forget drops dir, removed by retention.
func (s *sizeCache) forget(dir string) {
	s.mu.Lock()
	delete(s.m, dir)
	s.mu.Unlock()
}

// dirSize sums the sizes of the files under dir, symlinks not followed.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total, err
}

// revisionID turns what a user gives for a revision of app ("3", "r3",
// "<app>-r3") into its ID.
func revisionID(app, s string) (string, error) {
	n := strings.TrimPrefix(strings.TrimPrefix(s, app+"-"), "r")
	if v, err := strconv.Atoi(n); err == nil && v > 0 && n == strconv.Itoa(v) {
		return fmt.Sprintf("%s-r%d", app, v), nil
	}
	return "", fmt.Errorf("%w: revision %q: give a revision of %s as a number (3), r3 or %s-r3, as `cutover releases %s` lists them",
		store.ErrInvalid, s, app, app, app)
}
