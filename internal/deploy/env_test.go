package deploy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// TestChangeEnv releases a config var change as a new revision under
// load; the store's value wins over cutover.yaml's on the next deploy;
// a secret is never in the database in clear; wrong changes are refused
// and change nothing.
func TestChangeEnv(t *testing.T) {
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	l := startLoad(t, e.prodAddr)

	const secret = "sekret-7d1e" // the test app answers "version <VERSION>"
	d, err := e.ctrl.ChangeEnv(t.Context(), "web", EnvChange{Scope: store.ScopeRun,
		Set: []store.ConfigVar{{Name: "VERSION", Value: secret, Secret: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		t.Fatalf("env deployment ended %s: %s", d.Status, d.Error)
	}
	if v := versionsNow(t, e.prodAddr, 10); v[secret] != 10 {
		t.Errorf("after env set: %v; want every answer from VERSION=%s", v, secret)
	}

	// cutover.yaml still says v1: the store wins.
	if d := e.deploy(e.appConfig("v1")); d.Status != store.DeploymentSucceeded {
		t.Fatalf("redeploy ended %s: %s", d.Status, d.Error)
	}
	if v := versionsNow(t, e.prodAddr, 10); v[secret] != 10 {
		t.Errorf("after a redeploy: %v; want the config var to survive", v)
	}
	l.finish()
	l.checkNoFailures(t)

	revs, _ := e.store.ListRevisions(t.Context(), "web")
	refused := []struct {
		app  string
		ch   EnvChange
		want error
	}{
		{"nope", EnvChange{Scope: store.ScopeRun, Set: []store.ConfigVar{{Name: "A", Value: "1"}}}, store.ErrNotFound},
		{"web", EnvChange{Scope: store.ScopeRun, Set: []store.ConfigVar{{Name: "A", Value: "1"}, {Name: "9LIVES", Value: "1"}}}, store.ErrInvalid},
		{"web", EnvChange{Scope: store.ScopeRun, Set: []store.ConfigVar{{Name: "PORT", Value: "1"}}}, store.ErrInvalid},
		{"web", EnvChange{Scope: store.ScopeRun, Unset: []string{"MISSING"}}, store.ErrNotFound},
	}
	for _, tt := range refused {
		if _, err := e.ctrl.ChangeEnv(t.Context(), tt.app, tt.ch); !errors.Is(err, tt.want) {
			t.Errorf("ChangeEnv(%s, %+v) = %v; want %v", tt.app, tt.ch, err, tt.want)
		}
	}
	if after, _ := e.store.ListRevisions(t.Context(), "web"); len(after) != len(revs) {
		t.Errorf("refused changes made %d revisions", len(after)-len(revs))
	}
	if vars, _ := e.store.ConfigVars(t.Context(), "web", store.ScopeRun); len(vars) != 1 {
		t.Errorf("config vars after refused changes: %+v; want VERSION only", vars)
	}

	for _, f := range []string{"cutover.db", "cutover.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(e.dir, f))
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", f)
		}
	}
}

// TestScaledCountSurvivesDeploy: a `cutover scale` count is kept by the
// next deployment while cutover.yaml's count is the one it was scaled
// from; a changed service.count wins.
func TestScaledCountSurvivesDeploy(t *testing.T) {
	e := newEnv(t)
	e.setup(e.appConfig("v1")) // count 2
	if err := e.ctrl.Scale(t.Context(), "web", 3); err != nil {
		t.Fatal(err)
	}
	if d := e.deploy(e.appConfig("v2")); d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment ended %s: %s", d.Status, d.Error)
	}
	a, _ := e.store.GetApp(t.Context(), "web")
	waitFor(t, 20*time.Second, "3 tasks of v2", func() bool { return e.liveTasks("web")[a.CurrentRevision] == 3 })

	cfg := e.appConfig("v3")
	cfg.Service.Count = 1
	if d := e.deploy(cfg); d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment ended %s: %s", d.Status, d.Error)
	}
	a, _ = e.store.GetApp(t.Context(), "web")
	waitFor(t, 20*time.Second, "1 task of v3", func() bool { return e.liveTasks("web")[a.CurrentRevision] == 1 })
	if a.DesiredCount != 1 {
		t.Errorf("desired count %d; want cutover.yaml's changed count 1", a.DesiredCount)
	}
	if _, err := e.store.GetScaledCount(t.Context(), "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("kept count after cutover.yaml changed: %v; want it forgotten", err)
	}
}

// TestChangeEnvRollingAndNoDeploy: an env change of a rolling app rolls
// (its strategy, not blue/green); --no-deploy and build variables start
// no deployment; a change during a deployment is refused unless stored
// only.
func TestChangeEnvRollingAndNoDeploy(t *testing.T) {
	e := newEnv(t)
	cfg := e.appConfig("v1")
	cfg.Deploy.Strategy = "rolling"
	e.setup(cfg)

	set := func(name, value string) []store.ConfigVar { return []store.ConfigVar{{Name: name, Value: value}} }
	d, err := e.ctrl.ChangeEnv(t.Context(), "web", EnvChange{Scope: store.ScopeRun, Set: set("VERSION", "v9")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Strategy != "rolling" {
		t.Errorf("env deployment strategy %q; want the app's, rolling", d.Strategy)
	}
	if d = e.wait(d.ID); d.Status != store.DeploymentSucceeded {
		t.Fatalf("env deployment ended %s: %s", d.Status, d.Error)
	}
	if v := versionsNow(t, e.prodAddr, 10); v["v9"] != 10 {
		t.Errorf("after a rolling env change: %v; want v9 only", v)
	}

	revs, _ := e.store.ListRevisions(t.Context(), "web")
	for _, ch := range []EnvChange{
		{Scope: store.ScopeRun, Set: set("LATER", "1"), NoDeploy: true},
		{Scope: store.ScopeBuild, Set: set("NPM_TOKEN", "x")},
	} {
		if d, err := e.ctrl.ChangeEnv(t.Context(), "web", ch); err != nil || d.ID != "" {
			t.Errorf("ChangeEnv(%+v) = %s, %v; want no deployment", ch, d.ID, err)
		}
	}
	if after, _ := e.store.ListRevisions(t.Context(), "web"); len(after) != len(revs) {
		t.Errorf("--no-deploy and build changes made %d revisions", len(after)-len(revs))
	}

	next := e.appConfig("v2")
	next.Deploy.Strategy = "rolling"
	next.Deploy.ProgressDeadline = 30 * time.Second
	next.Service.Env["HEALTH"] = "fail" // held in progress until the deadline
	if _, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &next}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctrl.ChangeEnv(t.Context(), "web", EnvChange{Scope: store.ScopeRun, Set: set("REFUSED", "1")}); !errors.Is(err, store.ErrDeploymentInProgress) {
		t.Errorf("ChangeEnv during a deployment = %v; want ErrDeploymentInProgress", err)
	}
	vars, _ := e.store.ConfigVars(t.Context(), "web", store.ScopeRun)
	for _, v := range vars {
		if v.Name == "REFUSED" {
			t.Error("a refused change was stored")
		}
	}
	if len(vars) != 2 {
		t.Errorf("run vars %+v; want VERSION and LATER", vars)
	}
}
