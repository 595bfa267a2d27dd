package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// Config vars (`cutover env`) live in the store, not in cutover.yaml:
// every deployment copies the app's current ones into its revision's
// Service.ConfigVars (secrets sealed), so they survive every later
// deploy, and a rollback returns to the revision's own. A task's
// environment is cutover.yaml's service.env with the config vars over
// it; sealed values are opened only in the TaskSpec given to the runtime.

// EnvChange is a `cutover env set` or `unset`.
type EnvChange struct {
	Scope string // store.ScopeRun (the tasks) or store.ScopeBuild (the builds)
	Set   []store.ConfigVar
	Unset []string
	// NoDeploy stores the change without releasing it; the next
	// deployment takes it.
	NoDeploy bool
}

// ChangeEnv changes the app's config vars and releases a change of its
// tasks' vars as a new revision of the current release, deployed with
// the app's own strategy, like `heroku config:set`. It returns that
// deployment, or a zero Deployment when nothing was deployed (build
// vars, NoDeploy, an app with no revision yet, or a deployment that
// began between the check and the change: the next one takes it). A
// refused change (unknown app, invalid name, a deployment running)
// changes nothing.
func (c *Controller) ChangeEnv(ctx context.Context, app string, ch EnvChange) (store.Deployment, error) {
	if err := c.waitStarted(ctx); err != nil {
		return store.Deployment{}, err
	}
	release := ch.Scope == store.ScopeRun && !ch.NoDeploy
	c.mu.Lock()
	a, ok := c.apps[app]
	var current, running string
	if ok {
		current = a.current
		if a.run != nil {
			running = a.run.d.ID
		}
	}
	c.mu.Unlock()
	switch {
	case !ok:
		return store.Deployment{}, fmt.Errorf("changing the environment of %s: %w", app, store.ErrNotFound)
	case release && running != "":
		return store.Deployment{}, fmt.Errorf("changing the environment of %s: %w: deployment %s; change it once that has ended, or with --no-deploy", app, store.ErrDeploymentInProgress, running)
	}
	if err := c.store.ChangeConfigVars(ctx, app, ch.Scope, ch.Set, ch.Unset); err != nil {
		return store.Deployment{}, err
	}
	if !release || current == "" {
		return store.Deployment{}, nil
	}
	rev, err := c.store.GetRevision(ctx, current)
	if err != nil {
		return store.Deployment{}, fmt.Errorf("changing the environment of %s: the change is stored; reading the current revision: %w", app, err)
	}
	d, err := c.Deploy(ctx, app, RevisionSpec{Artifact: rev.Artifact, Commit: rev.Commit})
	if errors.Is(err, store.ErrDeploymentInProgress) {
		// A deployment began since the check above: the change is stored,
		// and the deployment after it takes the change.
		c.log.Info("env change stored; a deployment began meanwhile", "app", app, "err", err)
		return store.Deployment{}, nil
	}
	if err != nil {
		return store.Deployment{}, fmt.Errorf("changing the environment of %s: the change is stored and reaches the tasks with the next deployment; deploying it now: %w", app, err)
	}
	return d, nil
}

// withKept returns cfg, about to be deployed, with what the store keeps
// for the app: its config vars, and its `cutover scale` count. fromFile
// says cfg was read from cutover.yaml; the kept count then applies only
// while cutover.yaml's count is the one it was scaled from (a changed
// service.count wins, and the kept count is forgotten).
func (c *Controller) withKept(ctx context.Context, cfg config.App, fromFile bool) (config.App, error) {
	vars, err := c.store.SealedEnv(ctx, cfg.Name, store.ScopeRun)
	if err != nil {
		return cfg, err
	}
	cfg.Service.ConfigVars = nil
	if len(vars) > 0 {
		cfg.Service.ConfigVars = vars
	}
	if !fromFile {
		return cfg, nil
	}
	kept, err := c.store.GetScaledCount(ctx, cfg.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return cfg, nil
	case err != nil:
		return cfg, err
	case kept.BaseCount == cfg.Service.Count:
		cfg.Service.Count = kept.Count
		return cfg, nil
	}
	if err := c.store.ClearScaledCount(ctx, cfg.Name); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// withVars returns env with vars merged over it: a task's environment
// before its sealed values are opened (openEnv).
func withVars(env, vars map[string]string) map[string]string {
	if len(vars) == 0 {
		return env
	}
	out := maps.Clone(env)
	if out == nil {
		out = make(map[string]string, len(vars))
	}
	maps.Copy(out, vars)
	return out
}

// openEnv returns spec with the sealed values of its environment (secret
// config vars) opened: the one place a secret is in clear outside the
// store, on its way to the runtime. Call it on every taskSpec.
func (c *Controller) openEnv(spec runtime.TaskSpec) (runtime.TaskSpec, error) {
	sealed := map[string]string{}
	for k, v := range spec.Env {
		if store.IsSealed(v) {
			sealed[k] = v
		}
	}
	if len(sealed) == 0 {
		return spec, nil
	}
	opened, err := c.store.OpenEnv(sealed)
	if err != nil {
		return spec, fmt.Errorf("opening the secret config vars of %s: %w", spec.App, err)
	}
	spec.Env = maps.Clone(spec.Env)
	maps.Copy(spec.Env, opened)
	return spec, nil
}
