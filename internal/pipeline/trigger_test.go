package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestManualStartAndPolling(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	ctx := context.Background()

	// A manual start builds the tip of the app's source (the working
	// repository, cutover.yaml's source.repo ".").
	e, err := h.pipe.Start(ctx, "web", StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e = h.wait(e.ID)
	head := gitRun(t, repo, "rev-parse", "HEAD")
	if e.Status != store.ExecutionSucceeded || e.Trigger != TriggerManual || e.Commit != head || e.Repo != repo {
		t.Fatalf("manual execution = %+v, want %s of %s", e, head, repo)
	}

	// Polling notices a new commit in the source.
	if err := h.pipe.SetSettings(ctx, "web", Settings{PollInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	v2 := h.commit(repo, "version 2", map[string]string{"version.txt": "2\n"})
	var polled store.Execution
	waitFor(t, 30*time.Second, "an execution started by polling", func() bool {
		es, err := h.pipe.List(ctx, "web", 1)
		if err == nil && len(es) == 1 && es[0].ID != e.ID {
			polled = es[0]
			return true
		}
		return false
	})
	if polled.Trigger != TriggerPoll || polled.Commit != v2 {
		t.Fatalf("polled execution = %+v, want commit %s", polled, v2)
	}
	if polled = h.wait(polled.ID); polled.Status != store.ExecutionSucceeded {
		t.Fatalf("polled execution ended %s: %s", polled.Status, polled.Error)
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 2 ") {
		t.Fatalf("production serves %q, %v; want version 2", body, err)
	}
	// Turning polling off stops it.
	if err := h.pipe.SetSettings(ctx, "web", Settings{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.pipe.Settings(ctx, "web"); s.PollInterval != 0 || s.Mode != ModeSuperseded || s.ApprovalTimeout != DefaultApprovalTimeout {
		t.Fatalf("settings = %+v", s)
	}
}
