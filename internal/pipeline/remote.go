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

// pushed starts an execution when a push moved the app's branch.
func (p *Pipeline) pushed(app, user string, updates []git.RefUpdate) {
	ctx := store.WithActor(context.Background(), "git:"+user)
	cfg, err := p.appConfig(ctx, app)
	if err != nil {
		p.log.Error("reading the app after a push", "app", app, "err", err)
		return
	}
	for _, u := range updates {
		branch, ok := strings.CutPrefix(u.Ref, "refs/heads/")
		if !ok || branch != cfg.Source.Branch || u.New == "" {
			p.log.Info("push to another branch ignored", "app", app, "ref", u.Ref)
			continue
		}
		_, err := p.Start(ctx, app, StartOptions{Repo: p.repoDir(app), Branch: branch, Commit: u.New, Trigger: TriggerPush})
		if err != nil {
			p.log.Error("starting a pipeline execution after a push", "app", app, "err", err)
		}
	}
}
