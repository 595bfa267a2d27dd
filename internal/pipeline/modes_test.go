package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// TestModes pushes three commits while the first one's build is held:
// the second waits in front of Build when the third arrives.
func TestModes(t *testing.T) {
	tests := []struct {
		mode         string
		wantSecond   string
		wantDeployed []string // versions, in deployment order
	}{
		{ModeSuperseded, store.ExecutionSuperseded, []string{"1", "3"}},
		{ModeQueued, store.ExecutionSucceeded, []string{"1", "2", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			h := newHarness(t)
			repo := h.newRepo()
			if err := h.pipe.SetSettings(context.Background(), "web", Settings{Mode: tt.mode}); err != nil {
				t.Fatal(err)
			}
			var execs []store.Execution
			for _, v := range []string{"1", "2", "3"} {
				h.commit(repo, "version "+v, map[string]string{"version.txt": v + "\n", "GATED": "x"})
				e := h.push(repo)
				execs = append(execs, e)
				switch v {
				case "1":
					h.waitStage(e.ID, StageBuild, store.StageInProgress)
				case "2":
					h.waitStage(e.ID, StageSource, store.StageSucceeded) // now waiting in front of Build
				}
			}
			if tt.mode == ModeSuperseded {
				if e := h.wait(execs[1].ID); e.Status != store.ExecutionSuperseded || e.Stage(StageBuild).Status != store.StageSkipped {
					t.Fatalf("second execution = %s, Build %s; want Superseded before Build", e.Status, e.Stage(StageBuild).Status)
				}
			}
			for _, v := range []string{"1", "2", "3"} {
				h.open(v)
			}
			for i, e := range execs {
				want := store.ExecutionSucceeded
				if i == 1 {
					want = tt.wantSecond
				}
				if got := h.wait(e.ID); got.Status != want {
					t.Fatalf("execution %d ended %s (%s), want %s\n%s", i+1, got.Status, got.Error, want, h.log(e.ID))
				}
			}
			deps, err := h.store.ListDeployments(context.Background(), "web", 0)
			if err != nil {
				t.Fatal(err)
			}
			var deployed []string
			for i := len(deps) - 1; i >= 0; i-- { // oldest first
				rev, err := h.store.GetRevision(context.Background(), deps[i].ToRevision)
				if err != nil {
					t.Fatal(err)
				}
				deployed = append(deployed, versionOf(t, h, repo, rev.Commit))
			}
			if strings.Join(deployed, ",") != strings.Join(tt.wantDeployed, ",") {
				t.Fatalf("deployed versions %v, want %v", deployed, tt.wantDeployed)
			}
			if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 3 ") {
				t.Fatalf("production serves %q, %v; want version 3", body, err)
			}
		})
	}
}

// versionOf returns version.txt at commit.
func versionOf(t *testing.T, h *harness, repo, commit string) string {
	return gitRun(t, repo, "show", commit+":version.txt")
}

func TestApproval(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	ctx := store.WithActor(context.Background(), "alice")
	if err := h.pipe.SetSettings(ctx, "web", Settings{Approval: true}); err != nil {
		t.Fatal(err)
	}

	// Approved: deployed.
	e := h.push(repo)
	h.waitStage(e.ID, StageApproval, store.StageInProgress)
	if err := h.pipe.Approve(ctx, e.ID, "ship it"); err != nil {
		t.Fatal(err)
	}
	if e = h.wait(e.ID); e.Status != store.ExecutionSucceeded || e.DeploymentID == "" {
		t.Fatalf("approved execution = %s (%s), deployment %q", e.Status, e.Error, e.DeploymentID)
	}
	if !strings.Contains(h.log(e.ID), "Approved by alice: ship it") {
		t.Errorf("the log does not record the approval:\n%s", h.log(e.ID))
	}

	// Rejected: not deployed.
	h.commit(repo, "version 2", map[string]string{"version.txt": "2\n"})
	e = h.push(repo)
	h.waitStage(e.ID, StageApproval, store.StageInProgress)
	if err := h.pipe.Reject(ctx, e.ID, "not today"); err != nil {
		t.Fatal(err)
	}
	e = h.wait(e.ID)
	if e.Status != store.ExecutionFailed || e.Stage(StageApproval).Status != store.StageFailed ||
		e.Stage(StageDeploy).Status != store.StageSkipped || !strings.Contains(e.Error, "rejected by alice: not today") {
		t.Fatalf("rejected execution = %+v", e)
	}

	// Timed out: not deployed.
	if err := h.pipe.SetSettings(ctx, "web", Settings{Approval: true, ApprovalTimeout: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	h.commit(repo, "version 3", map[string]string{"version.txt": "3\n"})
	e = h.wait(h.push(repo).ID)
	if e.Status != store.ExecutionFailed || !strings.Contains(e.Error, "no approval within 200ms") {
		t.Fatalf("timed-out execution = %s: %s", e.Status, e.Error)
	}
	if err := h.pipe.Approve(ctx, e.ID, "late"); !errors.Is(err, ErrNotWaiting) {
		t.Fatalf("approving an ended execution: %v, want ErrNotWaiting", err)
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 1 ") {
		t.Fatalf("production serves %q, %v; want version 1", body, err)
	}
}
