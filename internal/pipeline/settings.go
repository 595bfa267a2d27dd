package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Execution modes, CodePipeline's.
const (
	// ModeSuperseded (the default): a newer execution waiting in front
	// of a stage replaces an older waiting one.
	ModeSuperseded = "SUPERSEDED"
	// ModeQueued: executions go through each stage one by one, in order.
	ModeQueued = "QUEUED"
)

// Defaults of Settings.
const (
	DefaultApprovalTimeout = 7 * 24 * time.Hour // CodePipeline's
	DefaultBuildTimeout    = time.Hour          // CodeBuild's
)

// Settings are an app's pipeline settings. The zero value is a pipeline
// in SUPERSEDED mode without approval and without polling.
type Settings struct {
	Mode string `json:"mode,omitempty"` // ModeSuperseded ("") or ModeQueued
	// Approval adds a manual Approval stage before Deploy that fails when
	// nobody approves within ApprovalTimeout (default 7 days).
	Approval        bool          `json:"approval,omitempty"`
	ApprovalTimeout time.Duration `json:"approval_timeout,omitempty"`
	// PollInterval, when positive, polls the app's source repository
	// (cutover.yaml's source) and starts an execution for a new commit.
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	// BuildTimeout bounds the Build stage; default 1h.
	BuildTimeout time.Duration `json:"build_timeout,omitempty"`
	// Privileged gives the app's builds the Docker Engine, through
	// sandbox.DockerFilter (CodeBuild's privileged mode). Only an admin
	// sets it: a push cannot.
	Privileged bool `json:"privileged,omitempty"`
	// Branch is the pipeline's branch: what a manual start and polling
	// build, and, without trigger filters, the only branch whose pushes
	// start executions. Default cutover.yaml's source.branch.
	Branch string `json:"branch,omitempty"`
	// Triggers filter which pushes, tags and pull requests start
	// executions (CodePipeline V2's trigger filters); none: pushes to
	// Branch only.
	Triggers Triggers `json:"triggers,omitzero"`
	// Conditions are the Deploy stage's conditions: deploy window, no
	// open alarm, bake time (conditions.go).
	Conditions Conditions `json:"conditions,omitzero"`
	// Preview, when set, gives pull requests (and pushes to its
	// branches) preview apps of their own (preview.go).
	Preview *Preview `json:"preview,omitempty"`
}

func (s Settings) withDefaults() Settings {
	if s.Mode == "" {
		s.Mode = ModeSuperseded
	}
	if s.ApprovalTimeout <= 0 {
		s.ApprovalTimeout = DefaultApprovalTimeout
	}
	if s.BuildTimeout <= 0 {
		s.BuildTimeout = DefaultBuildTimeout
	}
	return s
}

func (s Settings) check() error {
	switch {
	case s.Mode != "" && s.Mode != ModeSuperseded && s.Mode != ModeQueued:
		return fmt.Errorf("mode %q: use %s or %s", s.Mode, ModeSuperseded, ModeQueued)
	case s.PollInterval < 0 || (s.PollInterval > 0 && s.PollInterval < time.Second):
		return fmt.Errorf("poll interval %s: use 0 (off) or at least 1s", s.PollInterval)
	case s.ApprovalTimeout < 0 || s.BuildTimeout < 0:
		return errors.New("timeouts cannot be negative")
	}
	if s.Branch != "" {
		if err := checkRefName("branch", s.Branch); err != nil {
			return err
		}
	}
	if err := s.Triggers.Check(); err != nil {
		return err
	}
	if err := s.Preview.Check(); err != nil {
		return err
	}
	return s.Conditions.Check()
}

// Settings returns the app's pipeline settings, defaults filled in.
func (p *Pipeline) Settings(ctx context.Context, app string) (Settings, error) {
	if _, err := p.store.GetApp(ctx, app); err != nil {
		return Settings{}, fmt.Errorf("reading pipeline settings: %w", err)
	}
	return p.settings(ctx, app)
}

func (p *Pipeline) settings(ctx context.Context, app string) (Settings, error) {
	var s Settings
	row, err := p.store.GetPipeline(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return s.withDefaults(), nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("reading pipeline settings: %w", err)
	}
	if len(row.Settings) > 0 {
		if err := json.Unmarshal(row.Settings, &s); err != nil {
			return Settings{}, fmt.Errorf("decoding pipeline settings of %s: %w", app, err)
		}
	}
	return s.withDefaults(), nil
}

// SetSettings replaces the app's pipeline settings. A new poll interval
// applies at once; the mode and approval apply to executions that start
// afterwards.
func (p *Pipeline) SetSettings(ctx context.Context, app string, s Settings) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("setting the pipeline of %s: %w", app, err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("setting the pipeline of %s: %w", app, err)
	}
	row, err := p.pipelineRow(ctx, app)
	if err != nil {
		return err
	}
	row.Settings = raw
	if _, err := p.store.PutPipeline(ctx, row); err != nil {
		return fmt.Errorf("setting the pipeline of %s: %w", app, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopPollerLocked(app)
	if s.PollInterval > 0 && p.ctx != nil {
		p.startPollerLocked(app, s.PollInterval)
	}
	return nil
}

// Secret returns the app's pipeline secret, making one on first use: the
// password of `git push` to the built-in remote (any user name) and the
// secret of the app's webhooks.
func (p *Pipeline) Secret(ctx context.Context, app string) (string, error) {
	row, err := p.pipelineRow(ctx, app)
	if err != nil {
		return "", err
	}
	return row.Secret, nil
}

// SetSecret replaces the app's pipeline secret (to rotate it, or to use
// the one a forge's webhook was configured with). It must be at least 16
// characters.
func (p *Pipeline) SetSecret(ctx context.Context, app, secret string) error {
	if len(secret) < 16 {
		return fmt.Errorf("setting the pipeline secret of %s: it must be at least 16 characters", app)
	}
	row, err := p.pipelineRow(ctx, app)
	if err != nil {
		return err
	}
	row.Secret = secret
	if _, err := p.store.PutPipeline(ctx, row); err != nil {
		return fmt.Errorf("setting the pipeline secret of %s: %w", app, err)
	}
	return nil
}

// pipelineRow returns the app's pipeline row, creating it with a new
// secret when there is none.
func (p *Pipeline) pipelineRow(ctx context.Context, app string) (store.Pipeline, error) {
	row, err := p.store.GetPipeline(ctx, app)
	if err == nil && row.Secret != "" {
		return row, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Pipeline{}, err
	}
	buf := make([]byte, 24)
	rand.Read(buf)
	row.App, row.Secret = app, hex.EncodeToString(buf)
	row, err = p.store.PutPipeline(ctx, row)
	if err != nil {
		return store.Pipeline{}, fmt.Errorf("creating the pipeline of %s: %w", app, err)
	}
	return row, nil
}
