package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Stage names.
const (
	StageSource   = "Source"
	StageBuild    = "Build"
	StageApproval = "Approval"
	StageDeploy   = "Deploy"
)

// Triggers: what started an execution.
const (
	TriggerPush    = "push"    // the built-in git remote
	TriggerWebhook = "webhook" // a forge's push event
	TriggerPoll    = "poll"    // polling found a new commit
	TriggerManual  = "manual"  // Start
)

// errStopped is the cause of a stopped execution's context.
var errStopped = errors.New("stopped")

// StartOptions say what an execution builds.
type StartOptions struct {
	// Repo is the repository to fetch; default the app's source
	// (cutover.yaml's source.repo, a path resolved against the app's
	// directory, or a URL).
	Repo string
	// Branch defaults to cutover.yaml's source.branch.
	Branch string
	// Commit, when set, is built instead of the branch's tip: a commit
	// id, full or abbreviated (CheckCommitName), never a ref.
	Commit string
	// Ref, when set, is the ref the commit is fetched by when the
	// repository does not hand out commits by id (a tag, a pull
	// request's refs/pull/N/head); default refs/heads/<Branch>.
	Ref     string
	Trigger string // default TriggerManual
	// Event is the trigger that started the execution, recorded with it;
	// nil for a manual start.
	Event *Trigger
}

// execution is a running execution.
type execution struct {
	id, app string
	number  int
	trigger string
	repo    string
	branch  string
	ref     string
	event   *Trigger // nil for a manual start
	commit  string
	mode    string
	set     Settings

	cancel context.CancelCauseFunc
	wake   chan error    // enter's answer: nil to go in, errSuperseded
	decide chan decision // an approval's answer
	log    *logSink
	stage  string // the stage it is in or waits for; guarded by Pipeline.mu

	// override is an admin's Override of the Deploy stage's entry
	// conditions: who overrode them.
	override chan string
}

// decision is an approval's answer.
type decision struct {
	approved bool
	by       string
	comment  string
}

// Start starts an execution of the app's pipeline and returns it as
// recorded. It returns before the execution ends; follow it with Get,
// the event log or StreamLog.
func (p *Pipeline) Start(ctx context.Context, app string, opts StartOptions) (store.Execution, error) {
	if opts.Commit != "" {
		if err := CheckCommitName(opts.Commit); err != nil {
			return store.Execution{}, fmt.Errorf("starting the pipeline of %s: %w", app, err)
		}
	}
	cfg, err := p.appConfig(ctx, app)
	if err != nil {
		return store.Execution{}, fmt.Errorf("starting the pipeline of %s: %w", app, err)
	}
	set, err := p.settings(ctx, app)
	if err != nil {
		return store.Execution{}, err
	}
	if opts.Repo == "" {
		opts.Repo = sourceRepo(cfg)
	}
	if opts.Branch == "" && opts.Ref == "" {
		opts.Branch = cfg.Source.Branch
	}
	if opts.Trigger == "" {
		opts.Trigger = TriggerManual
	}

	p.mu.Lock()
	runCtx := p.ctx
	p.mu.Unlock()
	if runCtx == nil {
		return store.Execution{}, fmt.Errorf("starting the pipeline of %s: %w", app, ErrNotRunning)
	}

	var by *store.TriggerInfo
	if opts.Event != nil {
		info := opts.Event.Info()
		by = &info
	}
	e, err := p.store.CreateExecution(ctx, store.Execution{
		App: app, Trigger: opts.Trigger, Repo: opts.Repo, Branch: opts.Branch, Commit: opts.Commit, Stages: stagesFor(set), TriggeredBy: by,
	})
	if err != nil {
		return store.Execution{}, fmt.Errorf("starting the pipeline of %s: %w", app, err)
	}
	sink, err := openLog(p.LogPath(app, e.ID))
	if err != nil {
		p.finish(context.WithoutCancel(ctx), e.ID, store.ExecutionFailed, err.Error())
		return store.Execution{}, err
	}
	x := &execution{
		id: e.ID, app: app, number: e.Number, trigger: opts.Trigger, repo: opts.Repo, branch: opts.Branch,
		ref: opts.Ref, event: opts.Event, commit: opts.Commit, mode: set.Mode, set: set,
		wake: make(chan error, 1), decide: make(chan decision, 1), override: make(chan string, 1), log: sink,
	}
	if err := p.launch(ctx, runCtx, x); err != nil {
		return store.Execution{}, fmt.Errorf("starting the pipeline of %s: %w", app, err)
	}
	p.log.Info("pipeline execution started", "execution", e.ID, "trigger", opts.Trigger, "commit", opts.Commit)
	return e, nil
}

// stagesFor lists an execution's stages, all pending: Source, Build, an
// Approval when set asks for one, and Deploy with set's conditions.
func stagesFor(set Settings) []store.Stage {
	stages := []store.Stage{{Name: StageSource}, {Name: StageBuild}}
	if set.Approval {
		stages = append(stages, store.Stage{Name: StageApproval})
	}
	stages = append(stages, store.Stage{Name: StageDeploy, Conditions: set.Conditions.records()})
	for i := range stages {
		stages[i].Status = store.StagePending
	}
	return stages
}

// launch runs the recorded execution x under runCtx, as the actor of
// ctx. When the pipeline stopped meanwhile, x is ended Failed instead.
func (p *Pipeline) launch(ctx, runCtx context.Context, x *execution) error {
	xctx, cancel := context.WithCancelCause(store.WithActor(runCtx, store.Actor(ctx)))
	x.cancel = cancel
	p.mu.Lock()
	if p.ctx == nil {
		p.mu.Unlock()
		cancel(ErrNotRunning)
		x.log.close()
		p.finish(context.WithoutCancel(ctx), x.id, store.ExecutionFailed, "cutover stopped")
		return ErrNotRunning
	}
	p.lineLocked(x.app).running[x.id] = x
	p.wg.Go(func() {
		defer cancel(nil)
		p.run(xctx, x)
	})
	p.mu.Unlock()
	return nil
}

// Stop stops an execution: a running build is killed with its process
// tree, an approval is abandoned, and a deployment in progress is left
// to finish without the execution following it (CodePipeline's "stop and
// abandon"). The execution ends Stopped.
func (p *Pipeline) Stop(ctx context.Context, id string) error {
	e, err := p.store.GetExecution(ctx, id)
	if err != nil {
		return fmt.Errorf("stopping execution %s: %w", id, err)
	}
	x := p.running(e.App, id)
	if x == nil || !e.Active() {
		return fmt.Errorf("stopping execution %s: %w (%s)", id, ErrNotActive, e.Status)
	}
	_, err = p.store.UpdateExecution(ctx, id, func(e *store.Execution) error {
		e.Status = store.ExecutionStopping
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("stopping execution %s: %w", id, err)
	}
	x.cancel(errStopped)
	return nil
}

// Approve approves the Approval stage an execution waits in.
func (p *Pipeline) Approve(ctx context.Context, id, comment string) error {
	return p.answer(ctx, id, decision{approved: true, by: store.Actor(ctx), comment: comment})
}

// Reject rejects the Approval stage an execution waits in; the
// execution fails.
func (p *Pipeline) Reject(ctx context.Context, id, comment string) error {
	return p.answer(ctx, id, decision{by: store.Actor(ctx), comment: comment})
}

func (p *Pipeline) answer(ctx context.Context, id string, d decision) error {
	e, err := p.store.GetExecution(ctx, id)
	if err != nil {
		return fmt.Errorf("answering the approval of %s: %w", id, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.lineLocked(e.App).running[id]
	st := e.Stage(StageApproval)
	if x == nil || x.stage != StageApproval || st == nil || st.Status != store.StageInProgress {
		return fmt.Errorf("answering the approval of %s: %w", id, ErrNotWaiting)
	}
	select {
	case x.decide <- d:
		return nil
	default:
		return fmt.Errorf("answering the approval of %s: %w: it was answered already", id, ErrNotWaiting)
	}
}

// run takes x through its stages and records how it ended.
func (p *Pipeline) run(ctx context.Context, x *execution) {
	bg := context.WithoutCancel(ctx)
	defer func() {
		x.log.close()
		p.mu.Lock()
		delete(p.lineLocked(x.app).running, x.id)
		p.mu.Unlock()
		p.removeOldWorkspaces(bg, x.app)
		p.previewEnded(bg, x)
	}()

	w := &workspace{dir: p.execDir(x.app, x.id), vars: map[string]string{"codepipeline.PipelineExecutionId": x.id}}
	e, err := p.store.GetExecution(bg, x.id)
	if err != nil {
		p.log.Error("pipeline execution", "execution", x.id, "err", err)
		return
	}
	for _, st := range e.Stages {
		p.setStage(x, st.Name)
		err := p.enter(ctx, x, st.Name)
		switch {
		case errors.Is(err, errSuperseded):
			x.log.printf("Superseded by a newer execution while waiting for stage %s", st.Name)
			p.finish(bg, x.id, store.ExecutionSuperseded, "")
			return
		case err != nil:
			x.log.printf("Stopped while waiting for stage %s", st.Name)
			p.finish(bg, x.id, store.ExecutionStopped, "")
			return
		}
		status, msg := p.runStage(ctx, x, w, st.Name)
		p.leave(x, st.Name)
		if status == store.StageSucceeded {
			continue
		}
		execStatus := store.ExecutionFailed
		if status == store.StageStopped || status == store.StageAbandoned {
			execStatus = store.ExecutionStopped
		}
		p.finish(bg, x.id, execStatus, fmt.Sprintf("%s: %s", st.Name, msg))
		return
	}
	p.finish(bg, x.id, store.ExecutionSucceeded, "")
}

func (p *Pipeline) setStage(x *execution, stage string) {
	p.mu.Lock()
	x.stage = stage
	p.mu.Unlock()
}

// runStage runs one stage, recording its start and end, and returns its
// final status and message.
func (p *Pipeline) runStage(ctx context.Context, x *execution, w *workspace, stage string) (status, msg string) {
	bg := context.WithoutCancel(ctx)
	started := p.now()
	p.updateStage(bg, x.id, stage, store.StageInProgress, "", func(s *store.Stage) { s.StartedAt = started })
	x.log.printf("Entering stage %s", stage)

	var err error
	switch stage {
	case StageSource:
		err = p.source(ctx, x, w)
	case StageBuild:
		err = p.build(ctx, x, w)
	case StageApproval:
		err = p.approval(ctx, x)
	case StageDeploy:
		err = p.conditionedDeploy(ctx, x, w)
	default:
		err = fmt.Errorf("unknown stage %q", stage)
	}

	status = store.StageSucceeded
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), errStopped) && stage == StageDeploy:
		status = store.StageAbandoned
	case errors.Is(context.Cause(ctx), errStopped):
		status = store.StageStopped
	default:
		status = store.StageFailed
	}
	if err != nil {
		msg = err.Error()
		if status != store.StageFailed {
			msg = "stopped: " + msg
		}
	}
	if msg == "" {
		msg = w.stageMessage
	}
	w.stageMessage = ""
	x.log.printf("Stage %s %s in %s%s", stage, status, p.now().Sub(started).Round(time.Millisecond), suffix(msg))
	p.updateStage(bg, x.id, stage, status, msg, func(s *store.Stage) { s.EndedAt = p.now() })
	return status, msg
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// updateStage records a stage's status and message; fn may set more.
func (p *Pipeline) updateStage(ctx context.Context, id, stage, status, msg string, fn func(*store.Stage)) {
	_, err := p.store.UpdateExecution(ctx, id, func(e *store.Execution) error {
		s := e.Stage(stage)
		if s == nil {
			return fmt.Errorf("execution %s has no stage %s", id, stage)
		}
		s.Status, s.Message = status, msg
		if fn != nil {
			fn(s)
		}
		return nil
	})
	if err != nil {
		p.log.Error("recording a pipeline stage", "execution", id, "stage", stage, "err", err)
	}
}

// update records other fields of a running execution.
func (p *Pipeline) update(ctx context.Context, id string, fn func(*store.Execution)) {
	_, err := p.store.UpdateExecution(ctx, id, func(e *store.Execution) error {
		fn(e)
		return nil
	})
	if err != nil {
		p.log.Error("recording a pipeline execution", "execution", id, "err", err)
	}
}

// finish records how an execution ended; stages it never reached are
// Skipped.
func (p *Pipeline) finish(ctx context.Context, id, status, errMsg string) {
	_, err := p.store.UpdateExecution(ctx, id, func(e *store.Execution) error {
		e.Status, e.Error = status, errMsg
		for i := range e.Stages {
			if e.Stages[i].Status == store.StagePending {
				e.Stages[i].Status = store.StageSkipped
			}
			skipConditions(&e.Stages[i])
		}
		return nil
	})
	if err != nil {
		p.log.Error("recording the end of a pipeline execution", "execution", id, "err", err)
		return
	}
	p.log.Info("pipeline execution ended", "execution", id, "status", status, "error", errMsg)
}

// approval waits for Approve or Reject, or the approval timeout.
func (p *Pipeline) approval(ctx context.Context, x *execution) error {
	timeout := x.set.ApprovalTimeout
	p.updateStage(context.WithoutCancel(ctx), x.id, StageApproval, store.StageInProgress,
		fmt.Sprintf("waiting for approval (times out in %s)", timeout), nil)
	x.log.printf("Waiting for a manual approval, up to %s", timeout)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case d := <-x.decide:
		if !d.approved {
			return fmt.Errorf("rejected by %s%s", d.by, suffix(d.comment))
		}
		x.log.printf("Approved by %s%s", d.by, suffix(d.comment))
		return nil
	case <-timer.C:
		return fmt.Errorf("no approval within %s", timeout)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (p *Pipeline) now() time.Time { return time.Now().UTC() }

// workspace is what the stages of one execution hand each other.
type workspace struct {
	dir          string            // the execution's directory
	src          string            // the checkout
	artifacts    string            // what Deploy packages: the build's artifacts or the checkout
	cfg          config.App        // the configuration to deploy
	vars         map[string]string // namespace.Name -> value
	stageMessage string            // a succeeded stage's summary
	deployment   store.Deployment  // the Deploy stage's, once it ended
}

func (w *workspace) setVars(namespace string, vars map[string]string) {
	for k, v := range vars {
		w.vars[namespace+"."+k] = v
	}
}

func (w *workspace) variables() map[string]string { return maps.Clone(w.vars) }
