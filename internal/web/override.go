package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// Overrider lets an execution waiting for the Deploy stage's entry
// conditions in; *pipeline.Pipeline implements it.
type Overrider interface {
	Override(ctx context.Context, id string) error
}

type overrideConfirm struct {
	E       store.Execution
	Waiting string // what it waits for
	CSRF    string
}

// waitingFor is what the execution's Deploy stage waits for, "" when it
// waits for no condition.
func waitingFor(e store.Execution) string {
	st := e.Stage(pipeline.StageDeploy)
	if st == nil || st.Status != store.StageInProgress || len(st.Conditions) == 0 {
		return ""
	}
	w, _ := strings.CutPrefix(st.Message, "waiting: ")
	if w == st.Message {
		return ""
	}
	return w
}

// confirmOverride asks an admin "are you sure?" before the override.
func (h *Handler) confirmOverride(w http.ResponseWriter, r *http.Request) {
	if h.pipeline == nil {
		h.fail(w, r, errNoPipeline)
		return
	}
	e, err := h.pipeline.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	waiting := waitingFor(e)
	if waiting == "" {
		h.render(w, r, http.StatusConflict, "error", "Nothing to override", fmt.Sprintf("Execution %s is not waiting for a stage condition.", e.ID))
		return
	}
	h.render(w, r, http.StatusOK, "override", "Override the conditions of "+e.ID+"?", overrideConfirm{
		E: e, Waiting: waiting, CSRF: sessionOf(r.Context()).csrf,
	})
}

// doOverride presses the button; the execution's page follows it.
func (h *Handler) doOverride(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, ok := h.pipeline.(Overrider)
	if !ok {
		h.fail(w, r, errNoPipeline)
		return
	}
	err := o.Override(r.Context(), id)
	switch {
	case errors.Is(err, pipeline.ErrNoConditionWaiting):
		h.render(w, r, http.StatusConflict, "error", "Override refused", err.Error())
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/pipelines/"+url.PathEscape(id)+"?msg="+url.QueryEscape("Conditions overridden: deploying."), http.StatusSeeOther)
}
