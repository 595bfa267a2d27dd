package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/store"
)

// Kinds of Trigger.
const (
	KindPush        = store.TriggerKindPush        // a branch moved
	KindTag         = store.TriggerKindTag         // a tag was pushed
	KindPullRequest = store.TriggerKindPullRequest // a pull (merge) request opened, changed or closed
)

// Pull request actions, as trigger filters name them (CodePipeline's
// OPEN, UPDATED and CLOSED). Each forge's own actions map onto these.
const (
	PROpen    = "open"    // opened or reopened
	PRUpdated = "updated" // new commits on its branch
	PRClosed  = "closed"  // closed or merged
)

// PullRequest is the pull (or merge) request of a KindPullRequest
// trigger.
type PullRequest = store.PullRequest

// Trigger is an event that may start an execution: a push of a branch
// or a tag (to the built-in remote or a forge), or a change of a pull
// request. Trigger filters (Triggers) decide whether it does. It is
// what a preview app will be created, updated or destroyed from, too.
type Trigger struct {
	Kind string
	// Ref is refs/heads/<branch> or refs/tags/<tag>; for a pull request,
	// the ref its forge keeps its head at (refs/pull/42/head), which
	// the Source stage fetches.
	Ref string
	// Commit is the commit to build: a push's new tip, a pull request's
	// head. Empty for a deleted ref.
	Commit string
	// ChangedFiles are the paths the push changed, when FilesKnown.
	// They cannot be known for a new branch, a payload that lists only
	// some commits, or a pull request (forges send no file list).
	ChangedFiles []string
	FilesKnown   bool
	PR           *PullRequest
	// Source says where it came from: "git" (the built-in remote),
	// "webhook:github", "webhook:gitlab", "webhook:gitea" or "poll".
	Source string
}

// Name is the branch or tag the trigger is about: a push's branch, a
// tag's name, a pull request's head branch.
func (t Trigger) Name() string {
	if t.PR != nil {
		return t.PR.Branch
	}
	if name, ok := strings.CutPrefix(t.Ref, "refs/heads/"); ok {
		return name
	}
	name, _ := strings.CutPrefix(t.Ref, "refs/tags/")
	return name
}

// Info is the trigger as an execution records it.
func (t Trigger) Info() store.TriggerInfo {
	return store.TriggerInfo{Kind: t.Kind, Ref: t.Ref, Commit: t.Commit, ChangedFiles: len(t.ChangedFiles),
		FilesUnknown: !t.FilesKnown, PullRequest: t.PR}
}

// describe names the trigger in messages: "push to branch main".
func (t Trigger) describe() string {
	switch t.Kind {
	case KindTag:
		return "push of tag " + t.Name()
	case KindPullRequest:
		return fmt.Sprintf("pull request #%d (%s, %s into %s)", t.PR.Number, t.PR.Action, t.PR.Branch, t.PR.Base)
	}
	return "push to branch " + t.Name()
}

// Triggers are an app's trigger filters, CodePipeline V2's
// gitConfiguration: an event starts an execution when any filter of its
// kind matches it. Without filters, a push to the pipeline's branch
// starts one, and tags and pull requests do not.
type Triggers struct {
	Push        []PushFilter        `json:"push,omitempty"`
	PullRequest []PullRequestFilter `json:"pull_request,omitempty"`
}

// PushFilter matches pushes: of branches (optionally narrowed by the
// files they change) or of tags. One filter names branches or tags,
// not both.
type PushFilter struct {
	Branches  *Patterns `json:"branches,omitempty"`
	Tags      *Patterns `json:"tags,omitempty"`
	FilePaths *Patterns `json:"file_paths,omitempty"`
}

// PullRequestFilter matches pull request events of the given actions
// (default open and updated) whose target (base) branch matches
// Branches, as CodePipeline matches the destination branch.
type PullRequestFilter struct {
	Events   []string  `json:"events,omitempty"`
	Branches *Patterns `json:"branches,omitempty"`
}

// Patterns include and exclude names by glob (see Glob). A name
// matches when no exclude matches it and, if there are includes, one
// of them does: excludes win.
type Patterns struct {
	Includes []string `json:"includes,omitempty"`
	Excludes []string `json:"excludes,omitempty"`
}

// Limits of trigger filters, CodePipeline's.
const (
	maxFilters  = 3   // push filters, and pull request filters
	maxPatterns = 8   // includes, and excludes, per criteria
	maxPattern  = 255 // characters of a pattern
)

// IsZero reports whether there are no filters.
func (t Triggers) IsZero() bool { return len(t.Push) == 0 && len(t.PullRequest) == 0 }

// Check says, field by field, what is wrong with the filters.
func (t Triggers) Check() error {
	if len(t.Push) > maxFilters || len(t.PullRequest) > maxFilters {
		return fmt.Errorf("triggers: at most %d push and %d pull_request filters", maxFilters, maxFilters)
	}
	var errs []error
	for i, f := range t.Push {
		field := fmt.Sprintf("triggers.push[%d]", i)
		switch {
		case f.Branches == nil && f.Tags == nil:
			errs = append(errs, fmt.Errorf("%s: name branches or tags", field))
		case f.Branches != nil && f.Tags != nil:
			errs = append(errs, fmt.Errorf("%s: name branches or tags, not both (one filter per kind of push)", field))
		case f.Tags != nil && f.FilePaths != nil:
			errs = append(errs, fmt.Errorf("%s: file_paths filter branch pushes only, not tags", field))
		}
		errs = append(errs, f.Branches.check(field+".branches"), f.Tags.check(field+".tags"), f.FilePaths.check(field+".file_paths"))
	}
	for i, f := range t.PullRequest {
		field := fmt.Sprintf("triggers.pull_request[%d]", i)
		for _, e := range f.Events {
			if !slices.Contains([]string{PROpen, PRUpdated, PRClosed}, e) {
				errs = append(errs, fmt.Errorf("%s.events: %q is not an event: use open, updated or closed", field, e))
			}
		}
		errs = append(errs, f.Branches.check(field+".branches"))
	}
	return errors.Join(errs...)
}

func (p *Patterns) check(field string) error {
	if p == nil {
		return nil
	}
	if len(p.Includes) == 0 && len(p.Excludes) == 0 {
		return fmt.Errorf("%s: give includes or excludes", field)
	}
	var errs []error
	for _, l := range []struct {
		name string
		list []string
	}{{"includes", p.Includes}, {"excludes", p.Excludes}} {
		name, list := l.name, l.list
		if len(list) > maxPatterns {
			errs = append(errs, fmt.Errorf("%s.%s: at most %d patterns", field, name, maxPatterns))
		}
		for _, pattern := range list {
			if len(pattern) > maxPattern {
				errs = append(errs, fmt.Errorf("%s.%s: pattern longer than %d characters", field, name, maxPattern))
			} else if _, err := CompileGlob(pattern); err != nil {
				errs = append(errs, fmt.Errorf("%s.%s: %w", field, name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// match reports whether name passes the patterns; nil patterns pass
// everything.
func (p *Patterns) match(name string) bool {
	if p == nil {
		return true
	}
	for _, pattern := range p.Excludes {
		if g, err := CompileGlob(pattern); err == nil && g.Match(name) {
			return false
		}
	}
	if len(p.Includes) == 0 {
		return true
	}
	for _, pattern := range p.Includes {
		if g, err := CompileGlob(pattern); err == nil && g.Match(name) {
			return true
		}
	}
	return false
}

// Match decides whether t starts an execution of a pipeline following
// branch. When it does not, reason says why, for the trigger.skipped
// event and the webhook's answer.
func (ts Triggers) Match(t Trigger, branch string) (ok bool, reason string) {
	if t.Commit == "" {
		return false, fmt.Sprintf("%s deleted it: nothing to build", t.describe())
	}
	if ts.IsZero() {
		if t.Kind == KindPush && t.Name() == branch {
			return true, ""
		}
		return false, fmt.Sprintf("%s: the pipeline has no trigger filters and follows branch %s only", t.describe(), branch)
	}
	switch t.Kind {
	case KindPullRequest:
		return ts.matchPullRequest(t)
	case KindTag:
		for _, f := range ts.Push {
			if f.Tags != nil && f.Tags.match(t.Name()) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s: no push filter's tags match it", t.describe())
	}
	return ts.matchBranchPush(t)
}

func (ts Triggers) matchBranchPush(t Trigger) (bool, string) {
	reason := fmt.Sprintf("%s: no push filter's branches match it", t.describe())
	for _, f := range ts.Push {
		if f.Branches == nil || !f.Branches.match(t.Name()) {
			continue
		}
		if f.FilePaths == nil || !t.FilesKnown {
			return true, ""
		}
		for _, file := range t.ChangedFiles {
			if f.FilePaths.match(file) {
				return true, ""
			}
		}
		reason = fmt.Sprintf("%s: none of its %d changed files matches the file_paths filter", t.describe(), len(t.ChangedFiles))
	}
	return false, reason
}

func (ts Triggers) matchPullRequest(t Trigger) (bool, string) {
	if len(ts.PullRequest) == 0 {
		return false, fmt.Sprintf("%s: the pipeline has no pull_request trigger filter", t.describe())
	}
	for _, f := range ts.PullRequest {
		events := f.Events
		if len(events) == 0 {
			events = []string{PROpen, PRUpdated}
		}
		if slices.Contains(events, t.PR.Action) && f.Branches.match(t.PR.Base) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("%s: no pull_request filter matches its action and target branch", t.describe())
}

// EventTriggerSkipped records a trigger that started no execution, and
// why (the filters did not match it, it deleted a ref). Data:
// SkippedTrigger.
const EventTriggerSkipped = "trigger.skipped"

// SkippedTrigger is the data of a trigger.skipped event.
type SkippedTrigger struct {
	store.TriggerInfo
	Source string `json:"source"` // git, poll, webhook:<forge>
	Reason string `json:"reason"`
}

// admit decides whether t starts an execution of the app's pipeline
// under its trigger filters; when not, reason says why.
func (p *Pipeline) admit(ctx context.Context, app string, t Trigger) (ok bool, reason string, err error) {
	cfg, err := p.appConfig(ctx, app)
	if err != nil {
		return false, "", err
	}
	set, err := p.settings(ctx, app)
	if err != nil {
		return false, "", err
	}
	ok, reason = set.Triggers.Match(t, cfg.Source.Branch)
	return ok, reason, nil
}

// skip records that t started no execution, and why.
func (p *Pipeline) skip(ctx context.Context, app string, t Trigger, reason string) {
	data, err := json.Marshal(SkippedTrigger{TriggerInfo: t.Info(), Source: t.Source, Reason: reason})
	if err == nil {
		_, err = p.store.Append(context.WithoutCancel(ctx), store.Event{Type: EventTriggerSkipped, App: app, Data: data})
	}
	if err != nil {
		p.log.Error("recording a skipped trigger", "app", app, "reason", reason, "err", err)
	}
	p.log.Info("trigger skipped", "app", app, "source", t.Source, "reason", reason)
}

// startOptions are the options of an execution t starts: its commit,
// the ref that holds it and the branch to call it by (a pull request's
// head branch; none for a tag).
func (t Trigger) startOptions() StartOptions {
	opts := StartOptions{Commit: t.Commit, Ref: t.Ref, Event: &t}
	if t.Kind != KindTag {
		opts.Branch = t.Name()
	}
	return opts
}

// checkRefName refuses a ref or branch name from outside that git would
// refuse or read as something else (an option, a refspec, a range):
// git check-ref-format's rules.
func checkRefName(field, name string) error {
	bad := name == "" || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock") || strings.Contains(name, "..") ||
		strings.Contains(name, "//") || strings.Contains(name, "@{") || strings.Contains(name, "/.") || strings.HasPrefix(name, ".") ||
		strings.ContainsAny(name, " ~^:?*[\\\x7f") || len(name) > 255
	for _, c := range name {
		if c < 0x20 {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%s %q is not a valid git ref name", field, name)
	}
	return nil
}

// CheckBranchName says what is wrong with a branch name given as the
// pipeline's branch.
func CheckBranchName(name string) error { return checkRefName("branch", name) }

// withWebhookEnv returns env with CodeBuild's webhook variables of t
// added (env itself is not changed): CODEBUILD_WEBHOOK_TRIGGER
// (branch/<name>, tag/<name>, pr/<number>), CODEBUILD_WEBHOOK_EVENT
// (PUSH, PULL_REQUEST_CREATED, _UPDATED, _MERGED, _CLOSED),
// CODEBUILD_WEBHOOK_HEAD_REF and, for a pull request,
// CODEBUILD_WEBHOOK_BASE_REF. A manual start (t nil) adds none.
func withWebhookEnv(env map[string]string, t *Trigger) map[string]string {
	if t == nil {
		return env
	}
	out := make(map[string]string, len(env)+4)
	for k, v := range env {
		out[k] = v
	}
	out["CODEBUILD_WEBHOOK_HEAD_REF"] = t.Ref
	out["CODEBUILD_WEBHOOK_EVENT"] = "PUSH"
	switch t.Kind {
	case KindTag:
		out["CODEBUILD_WEBHOOK_TRIGGER"] = "tag/" + t.Name()
	case KindPullRequest:
		out["CODEBUILD_WEBHOOK_TRIGGER"] = fmt.Sprintf("pr/%d", t.PR.Number)
		out["CODEBUILD_WEBHOOK_HEAD_REF"] = "refs/heads/" + t.PR.Branch
		out["CODEBUILD_WEBHOOK_BASE_REF"] = "refs/heads/" + t.PR.Base
		out["CODEBUILD_WEBHOOK_EVENT"] = map[string]string{PROpen: "PULL_REQUEST_CREATED", PRUpdated: "PULL_REQUEST_UPDATED", PRClosed: "PULL_REQUEST_CLOSED"}[t.PR.Action]
		if t.PR.Merged {
			out["CODEBUILD_WEBHOOK_EVENT"] = "PULL_REQUEST_MERGED"
		}
	default:
		out["CODEBUILD_WEBHOOK_TRIGGER"] = "branch/" + t.Name()
	}
	return out
}
