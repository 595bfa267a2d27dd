package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// deploymentView is everything the deployment page shows; the live
// stream re-renders its parts.
type deploymentView struct {
	D         store.Deployment
	Groups    groups
	Steps     []store.LifecycleEvent
	Traffic   trafficChart
	Metrics   []metricPanel
	Targets   []store.Task
	CanDeploy bool   // the viewer may press the buttons
	CSRF      string // for the buttons' forms
	Flash     string // what happened to the last button press
	Elapsed   string // how long it has run, or ran
}

func (v deploymentView) Rolling() bool { return v.Groups.rolling() || v.D.Strategy == "rolling" }

// deploymentView reads deployment id as it is now.
func (h *Handler) deploymentView(ctx context.Context, id string) (deploymentView, error) {
	d, err := h.store.GetDeployment(ctx, id)
	if err != nil {
		return deploymentView{}, err
	}
	v := deploymentView{D: d, Groups: groupsOf(d)}
	if sess := sessionOf(ctx); sess != nil {
		v.CanDeploy, v.CSRF = sess.principal.Allows(store.RoleDeploy), sess.csrf
	}
	if v.Steps, err = h.store.ListLifecycleEvents(ctx, d.ID); err != nil {
		return v, err
	}
	history, err := h.store.WeightHistory(ctx, d.ID)
	if err != nil {
		return v, err
	}
	end := d.EndedAt
	if end.IsZero() {
		end = h.now()
	}
	v.Elapsed = formatDuration(end.Sub(d.CreatedAt))
	v.Traffic = newTrafficChart(d.CreatedAt, end, history, v.Groups.New, d.FromRevision == "")

	tasks, err := h.store.ListTasks(ctx, store.TaskFilter{App: d.App})
	if err != nil {
		return v, err
	}
	for _, t := range tasks {
		if t.Revision != d.ToRevision && t.Revision != d.FromRevision || t.TaskSet == deploy.TaskSetOneOff {
			continue // another deployment's, or a release command (see its step)
		}
		if t.State == store.TaskStopped && t.StoppedAt.Before(d.CreatedAt) {
			continue // an earlier deployment's
		}
		v.Targets = append(v.Targets, t)
	}

	if h.metrics != nil && v.Groups.New != "" {
		alarms, err := h.alarms(ctx, d.ToRevision)
		if err != nil {
			return v, err
		}
		v.Metrics = metricPanels(h.metrics, d.App, v.Groups, alarms)
	}
	return v, nil
}

// alarms returns the rollback alarms of revision's configuration.
func (h *Handler) alarms(ctx context.Context, revision string) ([]config.Alarm, error) {
	rev, err := h.store.GetRevision(ctx, revision)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var cfg config.App
	if json.Unmarshal(rev.Config, &cfg) != nil {
		return nil, nil // a configuration this version cannot read: show no thresholds
	}
	return cfg.Deploy.Rollback.Alarms, nil
}

func (h *Handler) deploymentPage(w http.ResponseWriter, r *http.Request) {
	v, err := h.deploymentView(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Flash = r.URL.Query().Get("msg")
	h.render(w, r, http.StatusOK, "deployment", "Deployment "+v.D.ID, v)
}

// actions are the buttons of an active deployment, with what each does.
var actions = map[string]struct {
	Label, Explain string
}{
	"continue": {"Continue", "Go on past a manual wait: shift production traffic now, or end the termination wait and stop the old tasks."},
	"stop":     {"Stop", "Stop the deployment: production traffic goes back to the old tasks and the new ones are stopped. It ends Stopped."},
	"rollback": {"Rollback", "Roll back: production traffic goes back to the old tasks at once and the new ones are stopped. It ends RolledBack."},
}

type confirmData struct {
	D              store.Deployment
	Action         string
	Label, Explain string
	CSRF           string
}

// confirmAction asks "are you sure?" before a button does anything.
func (h *Handler) confirmAction(w http.ResponseWriter, r *http.Request) {
	act, ok := actions[r.PathValue("action")]
	if !ok {
		h.fail(w, r, store.ErrNotFound)
		return
	}
	d, err := h.store.GetDeployment(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm", act.Label+" "+d.ID+"?", confirmData{
		D: d, Action: r.PathValue("action"), Label: act.Label, Explain: act.Explain, CSRF: sessionOf(r.Context()).csrf,
	})
}

// doAction presses a button: continue, stop or rollback. It is recorded
// in the event log with the signed-in actor, as the API records it.
func (h *Handler) doAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, name := r.PathValue("id"), r.PathValue("action")
	var fn func(context.Context, string) error
	switch name {
	case "continue":
		fn = h.deployer.Continue
	case "stop":
		fn = h.deployer.Stop
	case "rollback":
		fn = h.deployer.Rollback
	default:
		h.fail(w, r, store.ErrNotFound)
		return
	}
	d, err := h.store.GetDeployment(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := actions[name].Label + " requested."
	if err := fn(ctx, id); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict), errors.Is(err, deploy.ErrNotActive), errors.Is(err, store.ErrNotFound):
			msg = actions[name].Label + " refused: " + err.Error()
		default:
			h.fail(w, r, err)
			return
		}
	} else {
		data, _ := json.Marshal(api.ActionRecord{Action: name})
		if _, err := h.store.Append(ctx, store.Event{Type: api.EventDeploymentAction, App: d.App, Deployment: d.ID, Data: data}); err != nil {
			h.log.Error("recording a deployment action", "deployment", id, "action", name, "error", err)
		}
	}
	http.Redirect(w, r, "/deployments/"+d.ID+"?msg="+url.QueryEscape(msg), http.StatusSeeOther)
}
