// Package api is cutover's control-plane API: REST/JSON under /api/v1,
// with live updates as server-sent events from the store's event log.
// The CLI is its first client, the dashboard its second.
//
// Reads come straight from the store, so every client sees the history a
// restarted cutover sees. Writes go through a Deployer (deployments) or
// Pipelines (pipeline settings and executions), which validate before they
// change anything: a 4xx answer never changes state.
//
// Every route needs a role (see internal/auth). The same routes are
// served two ways: Local, for the unix socket, where every caller is
// admin; and Remote, for TCP, where every call carries a bearer token.
// A refused call (401, 403) is answered before its handler runs, so it
// changes nothing. Each state-changing call is recorded in the event log
// with its caller as the actor.
//
// docs/api.md describes the routes; openapi.json is their OpenAPI 3.1
// document, and a test keeps it and the routes in step.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// DeployRequest asks for a deployment of the app in Dir (its cutover.yaml
// and release files, on the server's file system), with Env overriding
// the service's environment for this revision.
type DeployRequest struct {
	Dir string            `json:"dir"`
	Env map[string]string `json:"env,omitempty"`
}

// Deployer carries out the state-changing calls on deployments.
type Deployer interface {
	DeployDir(ctx context.Context, req DeployRequest) (store.Deployment, error)
	Continue(ctx context.Context, deploymentID string) error
	Stop(ctx context.Context, deploymentID string) error
	Rollback(ctx context.Context, deploymentID string) error
	// Scale sets an app's desired count without a new revision.
	Scale(ctx context.Context, app string, count int) error
	// Restart replaces the tasks of an app's current revision.
	Restart(ctx context.Context, app string) error
}

// TaskLogs gives a task's output; runtime.Driver implements it.
type TaskLogs interface {
	Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error)
}

// Options are the Handler's dependencies.
type Options struct {
	Store    *store.Store
	Deployer Deployer
	Logs     TaskLogs // nil: the logs route answers 501
	// Pipelines runs the apps' pipelines; nil: the pipeline routes
	// answer 501.
	Pipelines Pipelines
	// PushURL returns the URL of an app's built-in git remote; nil or
	// "" when cutover serves none.
	PushURL func(app string) string
	// System is cutover itself, for its info and upgrade; nil: those
	// routes answer 501.
	System System
	// Destroyer deletes apps; nil: DELETE /api/v1/apps/{app} answers 501.
	Destroyer Destroyer
	Logger    *slog.Logger // nil: discard
}

// Handler serves the API. It is not an http.Handler itself: serve Local
// on the unix socket and Remote on TCP.
type Handler struct {
	store    *store.Store
	deployer Deployer
	logs     TaskLogs
	log      *slog.Logger
	authn    *auth.Authenticator
	mux      *http.ServeMux
	routes   []route

	pipelines Pipelines
	pushURLOf func(app string) string
	system    System
	destroyer Destroyer

	closing   chan struct{} // closed by CloseStreams
	closeOnce sync.Once
}

// route is one pattern of the mux and the role it needs.
type route struct {
	method, path string
	role         string
	handler      http.HandlerFunc
}

// New returns the API handler.
func New(opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		store:    opts.Store,
		deployer: opts.Deployer,
		logs:     opts.Logs,
		log:      log,
		authn:    auth.NewAuthenticator(opts.Store, log),
		mux:      http.NewServeMux(),
		closing:  make(chan struct{}),

		pipelines: opts.Pipelines,
		pushURLOf: opts.PushURL,
		system:    opts.System,
		destroyer: opts.Destroyer,
	}
	d := opts.Deployer
	pl := h.withPipelines
	h.routes = []route{
		{"GET", "/api/v1/openapi.json", store.RoleRead, h.openAPI},
		{"GET", "/api/v1/apps", store.RoleRead, h.listApps},
		{"GET", "/api/v1/certificates", store.RoleRead, h.listCertificates},
		{"GET", "/api/v1/apps/{app}", store.RoleRead, h.getApp},
		{"DELETE", "/api/v1/apps/{app}", store.RoleAdmin, h.destroyApp},
		{"POST", "/api/v1/apps/{app}/scale", store.RoleDeploy, h.scaleApp},
		{"POST", "/api/v1/apps/{app}/restart", store.RoleDeploy, h.restartApp},
		{"POST", "/api/v1/apps/{app}/run", store.RoleDeploy, h.runTask},
		{"GET", "/api/v1/apps/{app}/logs", store.RoleRead, h.appLogs},
		{"GET", "/api/v1/apps/{app}/maintenance", store.RoleRead, h.getMaintenance},
		{"POST", "/api/v1/apps/{app}/maintenance", store.RoleDeploy, h.setMaintenance},
		{"DELETE", "/api/v1/apps/{app}/maintenance", store.RoleDeploy, h.clearMaintenance},
		{"GET", "/api/v1/apps/{app}/releases", store.RoleRead, h.listReleases},
		{"POST", "/api/v1/apps/{app}/rollback", store.RoleDeploy, h.rollbackTo},
		{"GET", "/api/v1/apps/{app}/env", store.RoleRead, h.listEnv},
		{"POST", "/api/v1/apps/{app}/env", store.RoleDeploy, h.changeEnv},
		{"GET", "/api/v1/apps/{app}/notifications", store.RoleRead, h.listNotifications},
		{"POST", "/api/v1/apps/{app}/notifications", store.RoleDeploy, h.addNotification},
		{"DELETE", "/api/v1/apps/{app}/notifications/{hook}", store.RoleDeploy, h.removeNotification},
		{"GET", "/api/v1/apps/{app}/notifications/deliveries", store.RoleRead, h.listDeliveries},
		{"GET", "/api/v1/deployments", store.RoleRead, h.listDeployments},
		{"POST", "/api/v1/deployments", store.RoleDeploy, h.createDeployment},
		{"GET", "/api/v1/deployments/{id}", store.RoleRead, h.getDeployment},
		{"POST", "/api/v1/deployments/{id}/continue", store.RoleDeploy, h.action("continue", d.Continue)},
		{"POST", "/api/v1/deployments/{id}/stop", store.RoleDeploy, h.action("stop", d.Stop)},
		{"POST", "/api/v1/deployments/{id}/rollback", store.RoleDeploy, h.action("rollback", d.Rollback)},
		{"GET", "/api/v1/tasks", store.RoleRead, h.listTasks},
		{"GET", "/api/v1/tasks/{id}/logs", store.RoleRead, h.taskLogs},
		{"GET", "/api/v1/events", store.RoleRead, h.events},
		{"GET", "/api/v1/system", store.RoleRead, h.systemInfo},
		{"POST", "/api/v1/system/upgrade", store.RoleAdmin, h.upgrade},
		{"GET", "/api/v1/pipelines/{app}", store.RoleRead, pl(h.getPipeline)},
		{"PUT", "/api/v1/pipelines/{app}", store.RoleAdmin, pl(h.putPipeline)},
		{"GET", "/api/v1/pipelines/{app}/secret", store.RoleAdmin, pl(h.pipelineSecret)},
		{"POST", "/api/v1/pipelines/{app}/executions", store.RoleDeploy, pl(h.startExecution)},
		{"GET", "/api/v1/executions", store.RoleRead, pl(h.listExecutions)},
		{"GET", "/api/v1/executions/{id}", store.RoleRead, pl(h.getExecution)},
		{"POST", "/api/v1/executions/{id}/stop", store.RoleDeploy, pl(h.executionAction("stop"))},
		{"POST", "/api/v1/executions/{id}/approve", store.RoleDeploy, pl(h.executionAction("approve"))},
		{"POST", "/api/v1/executions/{id}/reject", store.RoleDeploy, pl(h.executionAction("reject"))},
		{"POST", "/api/v1/executions/{id}/override", store.RoleAdmin, pl(h.overrideExecution)},
		{"GET", "/api/v1/executions/{id}/logs", store.RoleRead, pl(h.executionLogs)},
		{"GET", "/api/v1/tokens", store.RoleAdmin, h.listTokens},
		{"POST", "/api/v1/tokens", store.RoleAdmin, h.createToken},
		{"POST", "/api/v1/tokens/{name}/revoke", store.RoleAdmin, h.revokeToken},
	}
	for _, rt := range h.routes {
		h.mux.Handle(rt.method+" "+rt.path, requireRole(rt.role, rt.handler))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// CloseStreams ends the event streams and followed logs being served,
// so that http.Server.Shutdown does not wait for clients that never
// hang up. Register it with RegisterOnShutdown.
func (h *Handler) CloseStreams() {
	h.closeOnce.Do(func() { close(h.closing) })
}

// Local serves the API to callers on the unix socket, as admin.
func (h *Handler) Local() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mux.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.Local())))
	})
}

// Remote serves the API to callers with a bearer token.
func (h *Handler) Remote() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.authn.Authenticate(r)
		switch {
		case errors.Is(err, auth.ErrNoToken), errors.Is(err, auth.ErrBadToken), errors.Is(err, auth.ErrRevoked):
			w.Header().Set("WWW-Authenticate", `Bearer realm="cutover"`)
			problem(w, http.StatusUnauthorized, err.Error())
			return
		case err != nil:
			h.fail(w, err)
			return
		}
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if p.Allows(store.RoleAdmin) {
			h.mux.ServeHTTP(w, r)
			return
		}
		// Only admin reads the values of a service's environment.
		m := &maskingWriter{ResponseWriter: w}
		h.mux.ServeHTTP(m, r)
		m.finish()
	})
}

// requireRole answers 403 unless the caller's role includes role.
func requireRole(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			problem(w, http.StatusUnauthorized, "no caller: serve the API with Local or Remote")
			return
		}
		if !p.Allows(role) {
			problem(w, http.StatusForbidden, fmt.Sprintf("%s has role %s; %s %s needs %s", p.Actor, p.Role, r.Method, r.URL.Path, role))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AppStatus is an app with what a person checks first.
type AppStatus struct {
	store.App
	Tasks            []store.Task      `json:"tasks"`
	HealthyTasks     int               `json:"healthy_tasks"`
	LastDeployment   *store.Deployment `json:"last_deployment,omitempty"`
	ProductionWeight map[string]int    `json:"production_weights,omitempty"`
	// Maintenance is set while the app is in maintenance mode.
	Maintenance *MaintenanceAnswer `json:"maintenance,omitempty"`
	// Preview is set when the app is a preview app: its parent, pull
	// request or branch, URL and status (previews.go).
	Preview *store.Preview `json:"preview,omitempty"`
}

func (h *Handler) appStatus(ctx context.Context, a store.App) (AppStatus, error) {
	a, err := appForCaller(ctx, a)
	if err != nil {
		return AppStatus{}, err
	}
	s := AppStatus{App: a}
	tasks, err := h.store.ListTasks(ctx, store.TaskFilter{App: a.Name})
	if err != nil {
		return s, err
	}
	for _, t := range tasks {
		if t.State == store.TaskStopped {
			continue
		}
		s.Tasks = append(s.Tasks, t)
		if t.State == store.TaskHealthy {
			s.HealthyTasks++
		}
	}
	deps, err := h.store.ListDeployments(ctx, a.Name, 1)
	if err != nil {
		return s, err
	}
	if len(deps) > 0 {
		s.LastDeployment = &deps[0]
	}
	weights, err := h.store.CurrentWeights(ctx, a.Name)
	if err != nil {
		return s, err
	}
	for _, wc := range weights {
		if wc.Listener == "production" {
			s.ProductionWeight = wc.Weights
		}
	}
	if s.Preview, err = h.previewOf(ctx, a.Name); err != nil {
		return s, err
	}
	m, err := h.store.GetMaintenance(ctx, a.Name)
	if err != nil {
		return s, err
	}
	if m.On {
		ma := maintenanceAnswer(a.Name, m)
		s.Maintenance = &ma
	}
	return s, nil
}

func (h *Handler) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := h.store.ListApps(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	out := make([]AppStatus, 0, len(apps))
	for _, a := range apps {
		s, err := h.appStatus(r.Context(), a)
		if err != nil {
			h.fail(w, err)
			return
		}
		out = append(out, s)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getApp(w http.ResponseWriter, r *http.Request) {
	a, err := h.store.GetApp(r.Context(), r.PathValue("app"))
	if err != nil {
		h.fail(w, err)
		return
	}
	s, err := h.appStatus(r.Context(), a)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *Handler) listDeployments(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			problem(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		limit = n
	}
	deps, err := h.store.ListDeployments(r.Context(), r.URL.Query().Get("app"), limit)
	if err != nil {
		h.fail(w, err)
		return
	}
	if deps == nil {
		deps = []store.Deployment{}
	}
	writeJSON(w, http.StatusOK, deps)
}

// DeploymentDetail is a deployment with its lifecycle and traffic history.
type DeploymentDetail struct {
	store.Deployment
	Lifecycle []store.LifecycleEvent `json:"lifecycle"`
	Traffic   []store.WeightChange   `json:"traffic"`
}

func (h *Handler) getDeployment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := h.store.GetDeployment(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	detail := DeploymentDetail{Deployment: d}
	if detail.Lifecycle, err = h.store.ListLifecycleEvents(ctx, d.ID); err != nil {
		h.fail(w, err)
		return
	}
	if detail.Traffic, err = h.store.WeightHistory(ctx, d.ID); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, detail)
}

func (h *Handler) createDeployment(w http.ResponseWriter, r *http.Request) {
	var req DeployRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Dir == "" {
		problem(w, http.StatusBadRequest, `"dir" is required: the app directory with its cutover.yaml`)
		return
	}
	d, err := h.deployer.DeployDir(r.Context(), req)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

// action calls continue, stop or rollback and records the call, with
// its caller, in the event log.
func (h *Handler) action(name string, fn func(context.Context, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		if err := fn(ctx, id); err != nil {
			h.fail(w, err)
			return
		}
		d, err := h.store.GetDeployment(ctx, id)
		if err != nil {
			h.fail(w, err)
			return
		}
		data, _ := json.Marshal(ActionRecord{Action: name})
		if _, err := h.store.Append(ctx, store.Event{Type: EventDeploymentAction, App: d.App, Deployment: d.ID, Data: data}); err != nil {
			h.log.Error("recording a deployment action", "deployment", id, "action", name, "error", err)
		}
		writeJSON(w, http.StatusOK, d)
	}
}

// ScaleRequest asks for an app's desired count.
type ScaleRequest struct {
	Count int `json:"count"`
}

// scaleApp sets the app's desired count and answers with the app.
func (h *Handler) scaleApp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	var req ScaleRequest
	if !decode(w, r, &req) {
		return
	}
	if err := h.deployer.Scale(ctx, app, req.Count); err != nil {
		h.fail(w, err)
		return
	}
	a, err := h.store.GetApp(ctx, app)
	if err != nil {
		h.fail(w, err)
		return
	}
	if a, err = appForCaller(ctx, a); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// restartApp replaces the app's tasks and answers with the app once the
// new ones are healthy.
func (h *Handler) restartApp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app := r.PathValue("app")
	if err := h.deployer.Restart(ctx, app); err != nil {
		h.fail(w, err)
		return
	}
	a, err := h.store.GetApp(ctx, app)
	if err == nil {
		a, err = appForCaller(ctx, a)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// EventDeploymentAction records a continue, stop or rollback call; its
// actor is the caller. Data: ActionRecord.
const EventDeploymentAction = "deployment.action"

// ActionRecord is the data of a deployment.action event.
type ActionRecord struct {
	Action string `json:"action"` // "continue", "stop" or "rollback"
}

func (h *Handler) listTasks(w http.ResponseWriter, r *http.Request) {
	tasks, err := h.store.ListTasks(r.Context(), store.TaskFilter{App: r.URL.Query().Get("app")})
	if err != nil {
		h.fail(w, err)
		return
	}
	if tasks == nil {
		tasks = []store.Task{}
	}
	writeJSON(w, http.StatusOK, tasks)
}

// events lists events after ?after= as JSON, or, when the client accepts
// text/event-stream, streams them live; a reconnecting stream resumes
// after its Last-Event-ID. With ?deployment=ID&tasks=1 the app's task
// events from the deployment's start come too (they belong to no
// deployment), which is what a progress display needs.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	m, after, ok := h.eventQuery(w, r)
	if !ok {
		return
	}
	if r.Header.Get("Accept") == "text/event-stream" {
		h.streamEvents(w, r, m, after)
	} else {
		h.listEvents(w, r, m, after)
	}
}

// eventQuery reads the events route's query: which events, after which.
// It answers a bad query itself (false).
func (h *Handler) eventQuery(w http.ResponseWriter, r *http.Request) (m eventMatch, after int64, ok bool) {
	q := r.URL.Query()
	after, err := parseAfter(q.Get("after"), r.Header.Get("Last-Event-ID"))
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return m, 0, false
	}
	m = eventMatch{app: q.Get("app"), deployment: q.Get("deployment")}
	switch q.Get("tasks") {
	case "", "0", "false":
		return m, after, true
	case "1", "true":
	default:
		problem(w, http.StatusBadRequest, "tasks must be 1 or 0")
		return m, 0, false
	}
	if m.deployment == "" {
		problem(w, http.StatusBadRequest, "tasks=1 needs deployment=ID")
		return m, 0, false
	}
	ctx := r.Context()
	d, err := h.store.GetDeployment(ctx, m.deployment)
	if err != nil {
		h.fail(w, err)
		return m, 0, false
	}
	m.tasksOf = d.App
	first, err := h.store.Events(ctx, store.EventFilter{Deployment: d.ID, Limit: 1})
	if err != nil {
		h.fail(w, err)
		return m, 0, false
	}
	if len(first) == 1 {
		after = max(after, first[0].ID-1)
	}
	return m, after, true
}

// listEvents answers with the matching events after after, up to 1000.
func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request, m eventMatch, after int64) {
	ctx := r.Context()
	filter := store.EventFilter{AfterID: after, App: m.app, Deployment: m.deployment, Limit: 1000}
	if m.tasksOf != "" {
		filter.App, filter.Deployment = m.tasksOf, ""
	}
	evs, err := h.store.Events(ctx, filter)
	if err != nil {
		h.fail(w, err)
		return
	}
	out := []store.Event{}
	for _, ev := range evs {
		if m.matches(ev) {
			out = append(out, eventForCaller(ctx, ev))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// streamEvents sends the matching events after after as server-sent
// events, and those to come, until the client or the server goes.
func (h *Handler) streamEvents(w http.ResponseWriter, r *http.Request, m eventMatch, after int64) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	events := h.store.Subscribe(ctx, after)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !m.matches(ev) {
				continue
			}
			data, _ := json.Marshal(eventForCaller(ctx, ev))
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// eventMatch selects events for the events route.
type eventMatch struct {
	app, deployment string
	tasksOf         string // also task events of this app
}

func (m eventMatch) matches(ev store.Event) bool {
	if m.tasksOf != "" && ev.Deployment == "" && ev.App == m.tasksOf && strings.HasPrefix(ev.Type, "task.") {
		return true
	}
	return (m.app == "" || ev.App == m.app) && (m.deployment == "" || ev.Deployment == m.deployment)
}

func parseAfter(query, lastEventID string) (int64, error) {
	v := query
	if lastEventID != "" {
		v = lastEventID
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("after/Last-Event-ID must be a non-negative event id, not %q", v)
	}
	return n, nil
}

// fail answers err as a problem document with the status its kind means.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	var cfgErr *config.Error
	if status, ok := pipelineStatus(err); ok {
		problem(w, status, err.Error())
		return
	}
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, runtime.ErrNotFound):
		problem(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrDeploymentInProgress), errors.Is(err, store.ErrConflict), errors.Is(err, deploy.ErrNotActive):
		problem(w, http.StatusConflict, err.Error())
	case errors.As(err, &cfgErr), errors.Is(err, store.ErrInvalid), errors.Is(err, ErrBadRequest):
		problem(w, http.StatusBadRequest, err.Error())
	default:
		h.log.Error("api call failed", "error", err)
		problem(w, http.StatusInternalServerError, err.Error())
	}
}

// ErrBadRequest marks a Deployer error caused by the request (a missing
// directory, a bad override), answered with 400.
var ErrBadRequest = errors.New("bad request")

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
