package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Pipeline execution statuses, CodePipeline's.
const (
	ExecutionInProgress = "InProgress"
	ExecutionStopping   = "Stopping"
	ExecutionStopped    = "Stopped"
	ExecutionSucceeded  = "Succeeded"
	ExecutionSuperseded = "Superseded"
	ExecutionFailed     = "Failed"
)

// Stage statuses. Pending and Skipped are cutover's: the stage has not
// been reached, or will not run. Abandoned is an action CodePipeline
// gave up following on a stop.
const (
	StagePending    = "Pending"
	StageInProgress = "InProgress"
	StageSucceeded  = "Succeeded"
	StageFailed     = "Failed"
	StageStopped    = "Stopped"
	StageSkipped    = "Skipped"
	StageAbandoned  = "Abandoned"
)

// Event types of pipelines.
const (
	EventPipelineUpdated  = "pipeline.updated"           // data: Pipeline without its secret
	EventExecutionCreated = "pipeline.execution.created" // data: ExecutionChange
	EventExecutionStatus  = "pipeline.execution.status"  // data: ExecutionChange; the status changed
	EventExecutionUpdated = "pipeline.execution.updated" // data: ExecutionChange; other fields changed
	EventExecutionStage   = "pipeline.stage"             // data: StageChange; a stage's status or message changed
)

// Pipeline is an app's pipeline: its secret (the push password and
// webhook secret) and its settings, encoded by the pipeline package.
type Pipeline struct {
	App       string          `json:"app"`
	Secret    string          `json:"-"`
	Settings  json.RawMessage `json:"settings,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Execution is one run of an app's pipeline for one commit.
type Execution struct {
	ID      string `json:"id"`     // "<app>-e<number>", set by the store
	App     string `json:"app"`    //
	Number  int    `json:"number"` // 1, 2, ... per app, set by the store
	Status  string `json:"status"` // one of the Execution* statuses
	Trigger string `json:"trigger,omitempty"`
	Repo    string `json:"repo,omitempty"`
	Branch  string `json:"branch,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Message string `json:"message,omitempty"` // the commit's subject
	// TriggeredBy is the event that started the execution; nil for a
	// manual start (and executions recorded before it existed).
	TriggeredBy *TriggerInfo      `json:"triggered_by,omitempty"`
	Variables   map[string]string `json:"variables,omitempty"`
	// Artifact is what the Deploy stage deployed: a release directory or
	// an image reference.
	Artifact     string    `json:"artifact,omitempty"`
	DeploymentID string    `json:"deployment_id,omitempty"`
	Error        string    `json:"error,omitempty"`
	Stages       []Stage   `json:"stages"`
	CreatedAt    time.Time `json:"created_at"`        // set by the store
	UpdatedAt    time.Time `json:"updated_at"`        // set by the store
	EndedAt      time.Time `json:"ended_at,omitzero"` // set by the store when the status becomes final
}

// Kinds of TriggerInfo.
const (
	TriggerKindPush        = "push"         // a branch moved
	TriggerKindTag         = "tag"          // a tag was pushed
	TriggerKindPullRequest = "pull_request" // a pull or merge request opened, changed or closed
)

// TriggerInfo is what started an execution, as recorded with it.
type TriggerInfo struct {
	Kind   string `json:"kind"`             // one of the TriggerKind* kinds
	Ref    string `json:"ref,omitempty"`    // refs/heads/<branch>, refs/tags/<tag>, or the pull request's head ref
	Commit string `json:"commit,omitempty"` // the commit the event named
	// ChangedFiles is how many files the event changed; FilesUnknown
	// says they could not be computed (a new branch, a truncated list).
	ChangedFiles int          `json:"changed_files"`
	FilesUnknown bool         `json:"files_unknown,omitempty"`
	PullRequest  *PullRequest `json:"pull_request,omitempty"`
}

// PullRequest is the pull (or merge) request of a pull_request trigger.
type PullRequest struct {
	Number int    `json:"number"`
	Action string `json:"action"` // open, updated or closed (pipeline.PR* actions)
	Merged bool   `json:"merged,omitempty"`
	Branch string `json:"branch"` // its head (source) branch
	Base   string `json:"base"`   // the branch it targets
	Title  string `json:"title,omitempty"`
	URL    string `json:"url,omitempty"`
}

// Stage is one stage of an execution.
type Stage struct {
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Message   string    `json:"message,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Conditions are the stage's beforeEntry and onSuccess conditions
	// and how they were evaluated (conditions.go).
	Conditions []Condition `json:"conditions,omitempty"`
}

// Active reports whether the execution has not ended.
func (e Execution) Active() bool {
	return e.Status == ExecutionInProgress || e.Status == ExecutionStopping
}

// Stage returns the stage named name, or nil.
func (e *Execution) Stage(name string) *Stage {
	for i := range e.Stages {
		if e.Stages[i].Name == name {
			return &e.Stages[i]
		}
	}
	return nil
}

// ExecutionChange is the data of pipeline.execution.* events.
type ExecutionChange struct {
	Execution      Execution `json:"execution"`
	PreviousStatus string    `json:"previous_status,omitempty"`
}

// StageChange is the data of pipeline.stage events.
type StageChange struct {
	Execution      string `json:"execution"`
	Stage          Stage  `json:"stage"`
	PreviousStatus string `json:"previous_status,omitempty"`
}

var executionStatuses = []string{ExecutionInProgress, ExecutionStopping, ExecutionStopped, ExecutionSucceeded, ExecutionSuperseded, ExecutionFailed}

var stageStatuses = []string{StagePending, StageInProgress, StageSucceeded, StageFailed, StageStopped, StageSkipped, StageAbandoned}

// GetPipeline returns the app's pipeline, or ErrNotFound.
func (s *Store) GetPipeline(ctx context.Context, app string) (Pipeline, error) {
	var p Pipeline
	var settings jsonValue
	var created, updated timeValue
	err := s.r.QueryRowContext(ctx, "SELECT app, secret, settings, created_at, updated_at FROM pipelines WHERE app = ?", app).
		Scan(&p.App, &p.Secret, &settings, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Pipeline{}, fmt.Errorf("getting pipeline of app %s: %w", app, ErrNotFound)
	}
	if err != nil {
		return Pipeline{}, fmt.Errorf("getting pipeline of app %s: %w", app, err)
	}
	p.Settings, p.CreatedAt, p.UpdatedAt = settings.raw, created.t, updated.t
	if p.Secret, err = s.sealer.open(p.Secret); err != nil {
		return Pipeline{}, fmt.Errorf("getting pipeline of app %s: %w", app, err)
	}
	return p, nil
}

// PutPipeline creates or replaces the app's pipeline and appends
// pipeline.updated (without the secret).
func (s *Store) PutPipeline(ctx context.Context, p Pipeline) (Pipeline, error) {
	err := s.write(ctx, "putting pipeline of app "+p.App, func(t *tx) error {
		if err := validJSON("settings", p.Settings); err != nil {
			return err
		}
		if _, err := t.getApp(ctx, p.App); err != nil {
			return err
		}
		p.UpdatedAt = t.now
		var created timeValue
		err := t.QueryRowContext(ctx, `INSERT INTO pipelines (app, secret, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (app) DO UPDATE SET secret = excluded.secret, settings = excluded.settings, updated_at = excluded.updated_at
			RETURNING created_at`,
			p.App, s.sealer.seal(p.Secret), nullJSON(p.Settings), formatTime(t.now), formatTime(t.now)).Scan(&created)
		if err != nil {
			return err
		}
		p.CreatedAt = created.t
		return t.emit(ctx, EventPipelineUpdated, p.App, "", p)
	})
	if err != nil {
		return Pipeline{}, err
	}
	return p, nil
}

const executionColumns = "id, app, number, status, trigger, repo, branch, git_commit, message, variables, artifact, deployment_id, error, created_at, updated_at, ended_at, triggered_by"

func scanExecution(row scanner) (Execution, error) {
	var e Execution
	var vars, by jsonValue
	var created, updated, ended timeValue
	err := row.Scan(&e.ID, &e.App, &e.Number, &e.Status, &e.Trigger, &e.Repo, &e.Branch, &e.Commit, &e.Message,
		&vars, &e.Artifact, &e.DeploymentID, &e.Error, &created, &updated, &ended, &by)
	if err != nil {
		return Execution{}, err
	}
	if len(by.raw) > 0 {
		e.TriggeredBy = new(TriggerInfo)
		if err := json.Unmarshal(by.raw, e.TriggeredBy); err != nil {
			return Execution{}, fmt.Errorf("decoding the trigger of execution %s: %w", e.ID, err)
		}
	}
	if len(vars.raw) > 0 {
		if err := json.Unmarshal(vars.raw, &e.Variables); err != nil {
			return Execution{}, fmt.Errorf("decoding variables of execution %s: %w", e.ID, err)
		}
	}
	e.CreatedAt, e.UpdatedAt, e.EndedAt = created.t, updated.t, ended.t
	return e, nil
}

const stageQuery = "SELECT name, status, message, started_at, ended_at, conditions FROM pipeline_stages WHERE execution_id = ? ORDER BY seq"

func scanStage(row scanner) (Stage, error) {
	var st Stage
	var started, ended timeValue
	var conds jsonValue
	if err := row.Scan(&st.Name, &st.Status, &st.Message, &started, &ended, &conds); err != nil {
		return Stage{}, err
	}
	st.StartedAt, st.EndedAt = started.t, ended.t
	return st, decodeConditions(&st, conds)
}

func checkExecution(e Execution) error {
	if !slices.Contains(executionStatuses, e.Status) {
		return fmt.Errorf("%w: execution status %q", ErrInvalid, e.Status)
	}
	for _, st := range e.Stages {
		if st.Name == "" {
			return fmt.Errorf("%w: a stage has no name", ErrInvalid)
		}
		if !slices.Contains(stageStatuses, st.Status) {
			return fmt.Errorf("%w: stage %s status %q", ErrInvalid, st.Name, st.Status)
		}
		if err := checkConditions(st); err != nil {
			return err
		}
	}
	return nil
}

// CreateExecution records a new execution of e.App, numbered after the
// app's newest, with its stages, and appends pipeline.execution.created.
// Its status is e.Status, InProgress when empty. It returns the execution
// with ID, Number and times set.
func (s *Store) CreateExecution(ctx context.Context, e Execution) (Execution, error) {
	err := s.write(ctx, "creating pipeline execution of app "+e.App, func(t *tx) error {
		if e.Status == "" {
			e.Status = ExecutionInProgress
		}
		if err := checkExecution(e); err != nil {
			return err
		}
		if _, err := t.getApp(ctx, e.App); err != nil {
			return err
		}
		if err := t.QueryRowContext(ctx, "SELECT coalesce(max(number), 0) + 1 FROM pipeline_executions WHERE app = ?", e.App).Scan(&e.Number); err != nil {
			return err
		}
		e.ID = fmt.Sprintf("%s-e%d", e.App, e.Number)
		e.CreatedAt, e.UpdatedAt, e.EndedAt = t.now, t.now, time.Time{}
		if !e.Active() {
			e.EndedAt = t.now
		}
		if err := t.insertExecution(ctx, e); err != nil {
			return err
		}
		return t.emit(ctx, EventExecutionCreated, e.App, e.DeploymentID, ExecutionChange{Execution: e})
	})
	if err != nil {
		return Execution{}, err
	}
	return e, nil
}

func (t *tx) insertExecution(ctx context.Context, e Execution) error {
	vars, err := encodeVariables(e.Variables)
	if err != nil {
		return err
	}
	var by any
	if e.TriggeredBy != nil {
		raw, err := json.Marshal(e.TriggeredBy)
		if err != nil {
			return fmt.Errorf("encoding the trigger: %w", err)
		}
		by = string(raw)
	}
	_, err = t.ExecContext(ctx, "INSERT INTO pipeline_executions ("+executionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		e.ID, e.App, e.Number, e.Status, e.Trigger, e.Repo, e.Branch, e.Commit, e.Message, vars, e.Artifact,
		e.DeploymentID, e.Error, formatTime(e.CreatedAt), formatTime(e.UpdatedAt), nullTime(e.EndedAt), by)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: execution %s exists", ErrConflict, e.ID)
	}
	if err != nil {
		return err
	}
	for i, st := range e.Stages {
		conds, err := encodeConditions(st.Conditions)
		if err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, "INSERT INTO pipeline_stages (execution_id, seq, name, status, message, started_at, ended_at, conditions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			e.ID, i+1, st.Name, st.Status, st.Message, nullTime(st.StartedAt), nullTime(st.EndedAt), conds)
		if err != nil {
			return err
		}
	}
	return nil
}

func encodeVariables(vars map[string]string) (any, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(vars)
	if err != nil {
		return nil, fmt.Errorf("encoding variables: %w", err)
	}
	return string(raw), nil
}

// GetExecution returns the execution with the given ID and its stages,
// or ErrNotFound.
func (s *Store) GetExecution(ctx context.Context, id string) (Execution, error) {
	e, err := getExecution(ctx, s.r, id)
	if err != nil {
		return Execution{}, fmt.Errorf("getting pipeline execution %s: %w", id, err)
	}
	return e, nil
}

// rowQueryer is a *sql.DB or a *tx.
type rowQueryer interface {
	queryer
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getExecution(ctx context.Context, q rowQueryer, id string) (Execution, error) {
	e, err := scanExecution(q.QueryRowContext(ctx, "SELECT "+executionColumns+" FROM pipeline_executions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Execution{}, ErrNotFound
	}
	if err != nil {
		return Execution{}, err
	}
	e.Stages, err = queryAll(ctx, q, scanStage, stageQuery, id)
	return e, err
}

// ExecutionFilter selects executions. Zero fields select everything.
type ExecutionFilter struct {
	App    string
	Active bool // only InProgress and Stopping ones
	Limit  int  // 0: no limit
}

// ListExecutions returns the executions f selects with their stages,
// newest first.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, error) {
	query := "SELECT " + executionColumns + " FROM pipeline_executions WHERE 1"
	var args []any
	if f.App != "" {
		query += " AND app = ?"
		args = append(args, f.App)
	}
	if f.Active {
		query += " AND status IN (?, ?)"
		args = append(args, ExecutionInProgress, ExecutionStopping)
	}
	query += " ORDER BY created_at DESC, number DESC"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	es, err := queryAll(ctx, s.r, scanExecution, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing pipeline executions: %w", err)
	}
	for i := range es {
		es[i].Stages, err = queryAll(ctx, s.r, scanStage, stageQuery, es[i].ID)
		if err != nil {
			return nil, fmt.Errorf("listing pipeline executions: %w", err)
		}
	}
	return es, nil
}

// UpdateExecution applies fn to the execution and saves it in one
// transaction: pipeline.execution.status when the status changed,
// pipeline.execution.updated when other fields did, and pipeline.stage
// for each stage whose status or message changed. An ended execution
// cannot change (ErrConflict); ID, App, Number and the stage names are
// kept as they were. EndedAt is set when the status becomes final.
func (s *Store) UpdateExecution(ctx context.Context, id string, fn func(*Execution) error) (Execution, error) {
	var e Execution
	err := s.write(ctx, "updating pipeline execution "+id, func(t *tx) error {
		old, err := getExecution(ctx, t, id)
		if err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
		if !old.Active() {
			return fmt.Errorf("%w: execution %s has ended (%s)", ErrConflict, id, old.Status)
		}
		if e, err = editExecution(old, fn); err != nil {
			return err
		}
		e.UpdatedAt = t.now
		if !e.Active() && e.EndedAt.IsZero() {
			e.EndedAt = t.now
		}
		vars, err := encodeVariables(e.Variables)
		if err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `UPDATE pipeline_executions SET status = ?, trigger = ?, repo = ?, branch = ?, git_commit = ?, message = ?,
			variables = ?, artifact = ?, deployment_id = ?, error = ?, updated_at = ?, ended_at = ? WHERE id = ?`,
			e.Status, e.Trigger, e.Repo, e.Branch, e.Commit, e.Message, vars, e.Artifact, e.DeploymentID, e.Error,
			formatTime(e.UpdatedAt), nullTime(e.EndedAt), id)
		if err != nil {
			return err
		}
		if err := t.updateStages(ctx, e, old); err != nil {
			return err
		}
		change := ExecutionChange{Execution: e, PreviousStatus: old.Status}
		switch {
		case e.Status != old.Status:
			return t.emit(ctx, EventExecutionStatus, e.App, e.DeploymentID, change)
		case executionFieldsChanged(old, e):
			return t.emit(ctx, EventExecutionUpdated, e.App, e.DeploymentID, change)
		}
		return nil
	})
	if err != nil {
		return Execution{}, err
	}
	return e, nil
}

// editExecution returns old as fn changes it, on copies of its maps and
// slices. What fn cannot change is kept: the identity, the creation, and
// the stages' number and names.
func editExecution(old Execution, fn func(*Execution) error) (Execution, error) {
	e := old
	e.Variables = maps.Clone(old.Variables)
	e.Stages = slices.Clone(old.Stages)
	for i := range e.Stages {
		e.Stages[i].Conditions = slices.Clone(old.Stages[i].Conditions)
	}
	if err := fn(&e); err != nil {
		return Execution{}, err
	}
	e.ID, e.App, e.Number, e.CreatedAt, e.TriggeredBy = old.ID, old.App, old.Number, old.CreatedAt, old.TriggeredBy
	if len(e.Stages) != len(old.Stages) {
		return Execution{}, fmt.Errorf("%w: the stages of an execution cannot be added or removed", ErrInvalid)
	}
	for i := range e.Stages {
		e.Stages[i].Name = old.Stages[i].Name
	}
	if err := checkExecution(e); err != nil {
		return Execution{}, err
	}
	return e, nil
}

// updateStages writes the stages of e that differ from old's, with the
// events their changes make.
func (t *tx) updateStages(ctx context.Context, e, old Execution) error {
	for i, st := range e.Stages {
		was := old.Stages[i]
		if stagesEqual(st, was) {
			continue
		}
		conds, err := encodeConditions(st.Conditions)
		if err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, "UPDATE pipeline_stages SET status = ?, message = ?, started_at = ?, ended_at = ?, conditions = ? WHERE execution_id = ? AND seq = ?",
			st.Status, st.Message, nullTime(st.StartedAt), nullTime(st.EndedAt), conds, e.ID, i+1)
		if err != nil {
			return err
		}
		if err := t.emitConditionChanges(ctx, e, st, was); err != nil {
			return err
		}
		if st.Status != was.Status || st.Message != was.Message {
			err := t.emit(ctx, EventExecutionStage, e.App, e.DeploymentID, StageChange{Execution: e.ID, Stage: st, PreviousStatus: was.Status})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func executionFieldsChanged(a, b Execution) bool {
	return a.Trigger != b.Trigger || a.Repo != b.Repo || a.Branch != b.Branch || a.Commit != b.Commit ||
		a.Message != b.Message || a.Artifact != b.Artifact || a.DeploymentID != b.DeploymentID || a.Error != b.Error ||
		!maps.Equal(a.Variables, b.Variables)
}
