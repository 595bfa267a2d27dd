package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// previewTick is how often idle previews are looked for.
const previewTick = time.Minute

// previewOutcome is what a trigger did to a preview app, as a webhook
// answers it.
type previewOutcome struct {
	code      int
	msg       string
	execution string
}

// handlePreview acts on t for the app's preview apps, when the app has
// preview settings and t is a pull request event or a push to a preview
// branch; handled is false otherwise, and t goes through the trigger
// filters as usual. repo is where t's commit is fetched from ("" for the
// app's source). A pull request opened or updated, or a push, creates
// the preview (under the limit) and starts an execution of its commit;
// a closed pull request or a deleted branch destroys it.
func (p *Pipeline) handlePreview(ctx context.Context, app string, t Trigger, repo string) (out previewOutcome, handled bool) {
	set, err := p.settings(ctx, app)
	if err != nil || set.Preview == nil {
		return out, false
	}
	cfg, err := p.appConfig(ctx, app)
	if err != nil {
		return out, false
	}
	switch {
	case t.Kind == KindPullRequest:
	case t.Kind == KindPush && set.Preview.Branches != nil && t.Name() != cfg.Source.Branch && set.Preview.Branches.match(t.Name()):
	default:
		return out, false
	}
	if t.Commit == "" || (t.PR != nil && t.PR.Action == PRClosed) {
		return p.closePreview(ctx, app, t), true
	}
	return p.deployPreview(ctx, cfg, *set.Preview, t, repo), true
}

// deployPreview records the preview of t (created under the limit) and
// starts an execution of t's commit for it.
func (p *Pipeline) deployPreview(ctx context.Context, cfg config.App, set Preview, t Trigger, repo string) previewOutcome {
	set = set.withDefaults()
	label := previewLabel(t)
	host := previewHost(set.Domain, label)
	pv := store.Preview{
		App: PreviewName(cfg.Name, label), Parent: cfg.Name, SourceKey: previewKey(t), Branch: t.Name(),
		Host: host, URL: previewURL(cfg, host), Commit: t.Commit, Status: store.PreviewDeploying,
	}
	if t.PR != nil {
		pv.PullRequest = t.PR.Number
	}
	old, err := p.store.GetPreview(ctx, pv.App)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := p.store.GetApp(ctx, pv.App); err == nil {
			return previewOutcome{code: http.StatusConflict, msg: fmt.Sprintf("preview of %s: an app named %s exists and is no preview app", t.describe(), pv.App)}
		}
	case err == nil && old.Status == store.PreviewDestroying:
		return previewOutcome{code: http.StatusConflict, msg: fmt.Sprintf("preview app %s is being destroyed: send the event again once it is gone", pv.App)}
	}
	pv, created, err := p.store.PutPreview(ctx, pv, set.Limit)
	switch {
	case errors.Is(err, store.ErrPreviewLimit):
		p.log.Warn("preview app refused", "app", cfg.Name, "preview", pv.App, "err", err)
		return previewOutcome{code: http.StatusConflict, msg: err.Error()}
	case err != nil:
		return previewOutcome{code: http.StatusInternalServerError, msg: err.Error()}
	}
	if created {
		if err := p.registerPreview(ctx, cfg, pv, set); err != nil {
			p.store.DeletePreview(context.WithoutCancel(ctx), pv.App, "registering it failed: "+err.Error())
			return previewOutcome{code: http.StatusInternalServerError, msg: err.Error()}
		}
	}
	opts := t.startOptions()
	opts.Repo, opts.Trigger = repo, TriggerWebhook
	if t.Source == "git" {
		opts.Trigger = TriggerPush
	}
	e, err := p.Start(ctx, pv.App, opts)
	if err != nil {
		p.store.SetPreviewStatus(context.WithoutCancel(ctx), pv.App, store.PreviewFailed, store.EventPreviewFailed, err.Error())
		return previewOutcome{code: startStatus(err), msg: err.Error()}
	}
	return previewOutcome{code: http.StatusCreated, execution: e.ID,
		msg: fmt.Sprintf("preview app %s (%s): execution started: %s", pv.App, pv.URL, t.describe())}
}

// registerPreview stores the preview app with its configuration, so that
// its executions have an app; its first deployment registers it with the
// controller.
func (p *Pipeline) registerPreview(ctx context.Context, cfg config.App, pv store.Preview, set Preview) error {
	spec, err := json.Marshal(previewConfig(cfg, pv, set))
	if err != nil {
		return fmt.Errorf("registering preview app %s: %w", pv.App, err)
	}
	if err := p.store.PutApp(ctx, store.App{Name: pv.App, Spec: spec, DesiredCount: set.withDefaults().Count}); err != nil {
		return fmt.Errorf("registering preview app %s: %w", pv.App, err)
	}
	return nil
}

// closePreview destroys the preview of t's pull request or branch.
func (p *Pipeline) closePreview(ctx context.Context, app string, t Trigger) previewOutcome {
	reason := t.describe() + " deleted the branch"
	if t.PR != nil {
		reason = fmt.Sprintf("pull request #%d closed", t.PR.Number)
		if t.PR.Merged {
			reason = fmt.Sprintf("pull request #%d merged", t.PR.Number)
		}
	}
	list, err := p.store.ListPreviews(ctx, app)
	if err != nil {
		return previewOutcome{code: http.StatusInternalServerError, msg: err.Error()}
	}
	for _, pv := range list {
		if pv.SourceKey == previewKey(t) {
			if err := p.destroyPreview(ctx, pv, reason); err != nil {
				return previewOutcome{code: startStatus(err), msg: err.Error()}
			}
			return previewOutcome{code: http.StatusAccepted, msg: fmt.Sprintf("preview app %s is being destroyed: %s", pv.App, reason)}
		}
	}
	return previewOutcome{code: http.StatusAccepted, msg: fmt.Sprintf("%s: no preview app to destroy", t.describe())}
}

// destroyPreview marks the preview destroying and tears it down in the
// background: draining takes the app's deregistration delay.
func (p *Pipeline) destroyPreview(ctx context.Context, pv store.Preview, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx == nil {
		return fmt.Errorf("destroying preview app %s: %w", pv.App, ErrNotRunning)
	}
	if _, err := p.store.SetPreviewStatus(ctx, pv.App, store.PreviewDestroying, "", ""); err != nil {
		return fmt.Errorf("destroying preview app %s: %w", pv.App, err)
	}
	runCtx := store.WithActor(p.ctx, store.Actor(ctx))
	p.wg.Go(func() { p.teardown(runCtx, pv.App, reason) })
	return nil
}

// teardown stops the preview's executions, lets a deployment of it end,
// destroys the app (tasks drained and stopped, releases removed) and
// forgets the preview. Cut short by cutover stopping, it runs again at
// the next start (resumeTeardowns).
func (p *Pipeline) teardown(ctx context.Context, app, reason string) {
	for attempt := 1; ; attempt++ {
		if err := p.stopExecutions(ctx, app); err != nil {
			p.log.Error("destroying a preview app", "app", app, "err", err)
			return
		}
		if d, err := p.store.ActiveDeployment(ctx, app); err == nil {
			p.deployer.Wait(ctx, d.ID)
		}
		err := p.destroyApp(ctx, app)
		if err == nil {
			break
		}
		if ctx.Err() != nil || !errors.Is(err, store.ErrDeploymentInProgress) || attempt == 5 {
			p.log.Error("destroying a preview app", "app", app, "err", err)
			return
		}
	}
	os.RemoveAll(p.appDir(app))
	if err := p.store.DeletePreview(context.WithoutCancel(ctx), app, reason); err != nil {
		p.log.Error("forgetting a destroyed preview app", "app", app, "err", err)
	}
	p.log.Info("preview app destroyed", "app", app, "reason", reason)
}

// stopExecutions stops the app's executions and waits until none runs.
func (p *Pipeline) stopExecutions(ctx context.Context, app string) error {
	for {
		p.mu.Lock()
		var ids []string
		for id := range p.lineLocked(app).running {
			ids = append(ids, id)
		}
		p.mu.Unlock()
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			p.Stop(ctx, id) // ErrNotActive: it is ending
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// destroyApp destroys the app through Options.Destroy. A preview whose
// first deployment never started is unknown to the controller: the
// store forgets it, and its releases (a failed deployment's) go.
func (p *Pipeline) destroyApp(ctx context.Context, app string) error {
	if p.destroy == nil {
		return errors.New("this cutover cannot destroy apps")
	}
	err := p.destroy(ctx, app)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := p.store.DeleteApp(ctx, app); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if !appNameRE.MatchString(app) {
		return fmt.Errorf("destroying %q: not a valid app name", app)
	}
	return os.RemoveAll(filepath.Join(p.dataDir, "releases", app))
}

// previewEnded records how an execution of a preview app ended:
// preview.deployed with its URL when it succeeded, preview.failed when it
// failed.
func (p *Pipeline) previewEnded(ctx context.Context, x *execution) {
	pv, err := p.store.GetPreview(ctx, x.app)
	if err != nil || pv.Status == store.PreviewDestroying {
		return
	}
	e, err := p.store.GetExecution(ctx, x.id)
	if err != nil {
		return
	}
	switch e.Status {
	case store.ExecutionSucceeded:
		_, err = p.store.SetPreviewStatus(ctx, pv.App, store.PreviewDeployed, store.EventPreviewDeployed, "")
	case store.ExecutionFailed:
		_, err = p.store.SetPreviewStatus(ctx, pv.App, store.PreviewFailed, store.EventPreviewFailed, e.Error)
	}
	if err != nil {
		p.log.Error("recording a preview app's deployment", "app", pv.App, "err", err)
	}
}

// previewAppConfig is a preview app's configuration, made from its
// parent's as it is now.
func (p *Pipeline) previewAppConfig(ctx context.Context, pv store.Preview) (config.App, error) {
	parent, err := p.appConfig(ctx, pv.Parent)
	if err != nil {
		return config.App{}, err
	}
	set, err := p.settings(ctx, pv.Parent)
	if err != nil {
		return config.App{}, err
	}
	cfg := previewConfig(parent, pv, *cmp.Or(set.Preview, &Preview{}))
	cfg.Source.Branch = pv.Branch
	return cfg, nil
}

// commitConfig checks that the commit's cutover.yaml is the app's (for
// a preview app, its parent's) and returns it as the app deploys it.
func (p *Pipeline) commitConfig(ctx context.Context, app string, cfg config.App) (config.App, error) {
	pv, err := p.store.GetPreview(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		if cfg.Name != app {
			return config.App{}, fmt.Errorf("the commit's %s is for app %q, not %q", config.AppFile, cfg.Name, app)
		}
		return cfg, nil
	}
	if err != nil {
		return config.App{}, err
	}
	if cfg.Name != pv.Parent {
		return config.App{}, fmt.Errorf("the commit's %s is for app %q, not %q (the parent of preview app %s)", config.AppFile, cfg.Name, pv.Parent, app)
	}
	set, err := p.settings(ctx, pv.Parent)
	if err != nil {
		return config.App{}, err
	}
	return previewConfig(cfg, pv, *cmp.Or(set.Preview, &Preview{})), nil
}

// expirePreviews destroys the previews idle at now, each under its
// parent's idle setting, and resumes teardowns a stop cut short.
func (p *Pipeline) expirePreviews(ctx context.Context, now time.Time) {
	list, err := p.store.ListPreviews(ctx, "")
	if err != nil {
		p.log.Error("looking for idle preview apps", "err", err)
		return
	}
	byParent := make(map[string][]store.Preview)
	for _, pv := range list {
		byParent[pv.Parent] = append(byParent[pv.Parent], pv)
	}
	for parent, previews := range byParent {
		set, err := p.settings(ctx, parent)
		if err != nil {
			continue
		}
		idle := cmp.Or(set.Preview, &Preview{}).withDefaults().Idle
		for _, pv := range idlePreviews(previews, idle, now) {
			reason := fmt.Sprintf("idle for %s (preview.idle %s)", now.Sub(pv.UpdatedAt).Round(time.Second), idle)
			if err := p.destroyPreview(ctx, pv, reason); err != nil {
				p.log.Error("destroying an idle preview app", "app", pv.App, "err", err)
			}
		}
	}
}

// resumeTeardowns restarts the teardowns of previews a previous cutover
// was destroying.
func (p *Pipeline) resumeTeardowns(ctx context.Context) {
	list, err := p.store.ListPreviews(ctx, "")
	if err != nil {
		return
	}
	for _, pv := range list {
		if pv.Status == store.PreviewDestroying {
			p.wg.Go(func() { p.teardown(ctx, pv.App, "destroying it again after a restart of cutover") })
		}
	}
}

// expireLoop looks for idle previews every previewTick until ctx ends.
func (p *Pipeline) expireLoop(ctx context.Context) {
	tick := time.NewTicker(previewTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.expirePreviews(ctx, p.now())
		}
	}
}
