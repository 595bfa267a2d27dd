package pipeline

import (
	"context"
	"time"

	"github.com/cutover/cutover/internal/pipeline/git"
	"github.com/cutover/cutover/internal/store"
)

// startPollerLocked polls the app's source every interval. The first
// commit it compares with is the one of the app's newest execution; an
// app the pipeline never ran starts from the branch's tip as it is at the
// first poll, without an execution. Called with p.mu held and p.ctx set.
func (p *Pipeline) startPollerLocked(app string, interval time.Duration) {
	ctx, cancel := context.WithCancel(p.ctx)
	p.lineLocked(app).stopPoller = cancel
	p.wg.Go(func() { p.poll(ctx, app, interval) })
}

func (p *Pipeline) stopPollerLocked(app string) {
	if l := p.lines[app]; l != nil && l.stopPoller != nil {
		l.stopPoller()
		l.stopPoller = nil
	}
}

func (p *Pipeline) poll(ctx context.Context, app string, interval time.Duration) {
	ctx = store.WithActor(ctx, "poll")
	var last string
	if es, err := p.store.ListExecutions(ctx, store.ExecutionFilter{App: app, Limit: 1}); err == nil && len(es) > 0 {
		last = es[0].Commit
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cfg, err := p.appConfig(ctx, app)
		if err != nil {
			p.log.Warn("polling", "app", app, "err", err)
			continue
		}
		repo := sourceRepo(cfg)
		sha, err := git.LsRemote(ctx, repo, cfg.Source.Branch)
		if err != nil {
			p.log.Warn("polling", "app", app, "err", err)
			continue
		}
		if last == "" {
			last = sha
			continue
		}
		if sha == last {
			continue
		}
		last = sha
		t := Trigger{Kind: KindPush, Ref: "refs/heads/" + cfg.Source.Branch, Commit: sha, Source: "poll"}
		ok, reason, err := p.admit(ctx, app, t)
		if err != nil {
			p.log.Warn("polling", "app", app, "err", err)
			continue
		}
		if !ok {
			p.skip(ctx, app, t, reason)
			continue
		}
		opts := t.startOptions()
		opts.Repo, opts.Trigger = repo, TriggerPoll
		if _, err := p.Start(ctx, app, opts); err != nil {
			p.log.Error("starting a pipeline execution after polling", "app", app, "err", err)
		}
	}
}
