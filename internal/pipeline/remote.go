package pipeline

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/cutover/cutover/internal/pipeline/git"
	"github.com/cutover/cutover/internal/store"
)

// PushURL returns the URL to push the app to, given the address the
// daemon serves Handler at (e.g. "127.0.0.1:8070").
func PushURL(addr, app string) string {
	return "http://" + addr + "/git/" + app + ".git"
}

// authorizePush accepts HTTP basic authentication whose password is the
// app's pipeline secret (any user name) or, with CheckPushToken, an API
// token.
func (p *Pipeline) authorizePush(r *http.Request, app string) (string, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || pass == "" {
		return "", errors.New("authentication required: use the app's pipeline secret as the password")
	}
	row, err := p.store.GetPipeline(r.Context(), app)
	if err == nil && row.Secret != "" && subtle.ConstantTimeCompare([]byte(pass), []byte(row.Secret)) == 1 {
		return cmp.Or(user, "git"), nil
	}
	if p.checkTok != nil && p.checkTok(r.Context(), pass) {
		return cmp.Or(user, "token"), nil
	}
	return "", errors.New("wrong credentials")
}

// openRepo creates the app's repository on first use. Only registered
// apps have one.
func (p *Pipeline) openRepo(ctx context.Context, app string) error {
	cfg, err := p.appConfig(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return git.ErrUnknownRepo
	}
	if err != nil {
		return err
	}
	return git.InitBare(ctx, p.repoDir(app), cfg.Source.Branch)
}

// pushed turns each ref a push to the built-in remote changed into a
// Trigger (a branch push with the files it changed, or a tag push) and
// starts an execution for those the trigger filters let through.
func (p *Pipeline) pushed(app, user string, updates []git.RefUpdate) {
	ctx := store.WithActor(context.Background(), "git:"+user)
	for _, u := range updates {
		t, ok := p.pushTrigger(ctx, app, u)
		if !ok {
			p.log.Info("push of a ref that is neither a branch nor a tag ignored", "app", app, "ref", u.Ref)
			continue
		}
		if out, handled := p.handlePreview(ctx, app, t, p.repoDir(app)); handled {
			p.log.Info("preview app", "app", app, "ref", u.Ref, "result", out.msg)
			continue
		}
		admitted, reason, err := p.admit(ctx, app, t)
		if err != nil {
			p.log.Error("deciding on a push", "app", app, "ref", u.Ref, "err", err)
			continue
		}
		if !admitted {
			p.skip(ctx, app, t, reason)
			continue
		}
		opts := t.startOptions()
		opts.Repo, opts.Trigger = p.repoDir(app), TriggerPush
		if _, err := p.Start(ctx, app, opts); err != nil {
			p.log.Error("starting a pipeline execution after a push", "app", app, "err", err)
		}
	}
}

// pushTrigger is the Trigger of one ref update. The changed files of a
// branch that existed before are git's diff of its old and new commit;
// those of a new branch are unknown.
func (p *Pipeline) pushTrigger(ctx context.Context, app string, u git.RefUpdate) (Trigger, bool) {
	t := Trigger{Ref: u.Ref, Commit: u.New, Source: "git"}
	switch {
	case strings.HasPrefix(u.Ref, "refs/heads/"):
		t.Kind = KindPush
	case strings.HasPrefix(u.Ref, "refs/tags/"):
		t.Kind = KindTag
	default:
		return Trigger{}, false
	}
	if t.Kind == KindPush && u.Old != "" && u.New != "" {
		files, err := git.ChangedFiles(ctx, p.repoDir(app), u.Old, u.New)
		if err != nil {
			p.log.Warn("the files a push changed are unknown", "app", app, "ref", u.Ref, "err", err)
		} else {
			t.ChangedFiles, t.FilesKnown = files, true
		}
	}
	return t, true
}
