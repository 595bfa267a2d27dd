package deploy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/release"
	"github.com/cutover/cutover/internal/store"
)

// snapshot makes a release directory of the test app under the env's
// <data>/releases/web, its contents told apart by note.
func (e *env) snapshot(note string) string {
	e.t.Helper()
	src := e.t.TempDir()
	bin, err := os.ReadFile(filepath.Join(webRelease, "web"))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "web"), bin, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "note"), []byte(note), 0o644); err != nil {
		e.t.Fatal(err)
	}
	dir, _, err := release.Snapshot(src, filepath.Join(e.dir, "releases", "web"))
	if err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// deployRelease deploys version from the release dir and waits for it.
func (e *env) deployRelease(version, dir string) store.Deployment {
	e.t.Helper()
	cfg := e.appConfig(version)
	d, err := e.ctrl.Deploy(e.t.Context(), "web", RevisionSpec{Artifact: dir, Config: &cfg})
	if err != nil {
		e.t.Fatalf("Deploy %s: %v", version, err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		e.t.Fatalf("deployment of %s ended %s: %s", version, d.Status, d.Error)
	}
	return d
}

// TestRollbackToAnEarlierRevision: RollbackTo deploys r1's release and
// configuration again as a new revision under load, with the app's
// current config vars and count, and 0 failed requests; the listing
// shows each revision's status; wrong requests are refused and change
// nothing.
func TestRollbackToAnEarlierRevision(t *testing.T) {
	e := newEnv(t)
	dirs := []string{e.snapshot("one"), e.snapshot("two")}
	cfg := e.appConfig("v1")
	if err := e.ctrl.PutApp(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	e.deployRelease("v1", dirs[0])
	e.deployRelease("v2", dirs[1])
	if err := e.ctrl.Scale(t.Context(), "web", 3); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ChangeConfigVars(t.Context(), "web", store.ScopeRun, []store.ConfigVar{{Name: "MODE", Value: "today"}}, nil); err != nil {
		t.Fatal(err)
	}

	l := startLoad(t, e.prodAddr)
	d, err := e.ctrl.RollbackTo(store.WithActor(t.Context(), "token:alice"), "web", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		t.Fatalf("rollback to r1 ended %s: %s", d.Status, d.Error)
	}
	l.finish()
	l.checkNoFailures(t)
	if v := versionsNow(t, e.prodAddr, 10); v["v1"] != 10 {
		t.Errorf("after rollback to r1: %v; want every answer from v1", v)
	}
	rev, err := e.store.GetRevision(t.Context(), d.ToRevision)
	if err != nil {
		t.Fatal(err)
	}
	if rev.ID != "web-r3" || rev.Artifact != dirs[0] {
		t.Errorf("rollback revision = %s of %s; want web-r3 of r1's release %s", rev.ID, rev.Artifact, dirs[0])
	}
	if n := e.liveTasks("web")["web-r3"]; n != 3 {
		t.Errorf("rollback runs %d tasks; want the scaled count 3", n)
	}

	list, err := e.ctrl.Releases(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ rev, status, sameAs, actor string }
	var got []row
	for _, r := range list.Releases {
		got = append(got, row{r.Revision, r.Status, r.SameAs, r.Actor})
		if !r.Available || r.Size == 0 {
			t.Errorf("%s: available %v, size %d; want its release on disk", r.Revision, r.Available, r.Size)
		}
	}
	want := []row{{"web-r3", ReleaseRunning, "web-r1", "token:alice"}, {"web-r2", ReleasePrevious, "", "system"}, {"web-r1", ReleaseRetired, "", "system"}}
	if !slices.Equal(got, want) {
		t.Errorf("Releases = %+v; want %+v", got, want)
	}
	if list.DiskBytes < list.Releases[0].Size+list.Releases[1].Size {
		t.Errorf("DiskBytes = %d; want at least the two releases' %d", list.DiskBytes, list.Releases[0].Size+list.Releases[1].Size)
	}
	checkRollbackRefusals(t, e, dirs[1])
}

func checkRollbackRefusals(t *testing.T, e *env, gone string) {
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		app, rev string
		want     error
	}{
		{"nope", "r1", store.ErrNotFound},
		{"web", "latest", store.ErrInvalid},
		{"web", "r0", store.ErrInvalid},
		{"web", "r99", store.ErrNotFound},
		{"web", "web-r3", store.ErrConflict}, // running
		{"web", "2", store.ErrConflict},      // its release is gone
	}
	for _, tt := range refused {
		if _, err := e.ctrl.RollbackTo(t.Context(), tt.app, tt.rev); !errors.Is(err, tt.want) {
			t.Errorf("RollbackTo(%s, %s) = %v; want %v", tt.app, tt.rev, err, tt.want)
		}
	}
	// A deployment in progress (as another controller's would be).
	d, err := e.store.CreateDeployment(t.Context(), store.Deployment{App: "web", FromRevision: "web-r3", ToRevision: "web-r3", Status: store.DeploymentInProgress})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctrl.RollbackTo(t.Context(), "web", "r1"); !errors.Is(err, store.ErrDeploymentInProgress) {
		t.Errorf("RollbackTo during deployment %s = %v; want %v", d.ID, err, store.ErrDeploymentInProgress)
	}
	if _, err := e.store.UpdateDeployment(t.Context(), d.ID, func(d *store.Deployment) error { d.Status = store.DeploymentStopped; return nil }); err != nil {
		t.Fatal(err)
	}
	if revs, _ := e.store.ListRevisions(t.Context(), "web"); len(revs) != 3 {
		t.Errorf("refused rollbacks left %d revisions; want 3", len(revs))
	}
}

// TestRetentionKeepsTheNewestReleases: with retain 2, after each
// successful deployment only the two newest release directories stay,
// never the running one's nor the previous one's, and a release shared
// by an older revision counts once.
func TestRetentionKeepsTheNewestReleases(t *testing.T) {
	e := newEnv(t)
	e.ctrl.retainReleases = 2
	if err := e.ctrl.PutApp(t.Context(), e.appConfig("v1")); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i, note := range []string{"one", "two", "three", "four"} {
		dirs = append(dirs, e.snapshot(note))
		e.deployRelease("v"+note, dirs[i])
		for j, dir := range dirs {
			_, err := os.Stat(dir)
			if kept := j >= i-1; kept != (err == nil) {
				t.Errorf("after deploying release %d: release %d on disk: %v; want %v", i+1, j+1, err == nil, kept)
			}
		}
	}
	// Rolling back to r3 (the previous) makes it the newest use of its
	// release: r4's stays as the previous one.
	d, err := e.ctrl.RollbackTo(t.Context(), "web", "r3")
	if err != nil {
		t.Fatal(err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		t.Fatalf("rollback ended %s: %s", d.Status, d.Error)
	}
	for j, dir := range dirs {
		if _, err := os.Stat(dir); (j >= 2) != (err == nil) {
			t.Errorf("after the rollback: release %d on disk: %v; want %v", j+1, err == nil, j >= 2)
		}
	}
	list, err := e.ctrl.Releases(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Releases {
		if want := r.Number >= 3; r.Available != want {
			t.Errorf("%s available = %v; want %v", r.Revision, r.Available, want)
		}
	}
	events, _ := e.store.Events(t.Context(), store.EventFilter{App: "web", Types: []string{EventReleaseRemoved}})
	if len(events) != 2 {
		t.Errorf("%d release.removed events; want 2", len(events))
	}
}

// TestRetentionKeepsTheReleaseOfARunningOneOffTask: a one-off task
// (`cutover run`) belongs to no task set; its release stays on disk
// while it runs, however many deployments come after it, and goes with
// the first deployment after it stopped.
func TestRetentionKeepsTheReleaseOfARunningOneOffTask(t *testing.T) {
	e := newEnv(t)
	e.ctrl.retainReleases = 1
	if err := e.ctrl.PutApp(t.Context(), e.appConfig("v1")); err != nil {
		t.Fatal(err)
	}
	first := e.snapshot("one")
	e.deployRelease("vone", first)
	o, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{Command: []string{"/bin/sh", "-c", "exec sleep 600"}, Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Remove(t.Context())
	for _, note := range []string{"two", "three", "four"} {
		e.deployRelease("v"+note, e.snapshot(note))
		if _, err := os.Stat(first); err != nil {
			t.Fatalf("after deploying release %q: the running one-off task's release: %v", note, err)
		}
	}
	o.Stop(t.Context(), time.Second)
	if _, err := o.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.deployRelease("vfive", e.snapshot("five"))
	if _, err := os.Stat(first); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after the one-off task stopped and another deployment: its release on disk: %v; want removed", err)
	}
}
