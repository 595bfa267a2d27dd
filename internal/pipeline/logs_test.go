package pipeline

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFollowLog(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	h.commit(repo, "gated", map[string]string{"GATED": "x"})
	e := h.push(repo)

	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- h.pipe.StreamLog(context.Background(), e.ID, &out, true) }()

	// The build's output arrives while the build runs.
	waitFor(t, 30*time.Second, "the build's output in the followed log", func() bool {
		return strings.Contains(out.String(), "running tests")
	})
	select {
	case err := <-done:
		t.Fatalf("StreamLog returned while the execution runs: %v", err)
	default:
	}
	if err := h.pipe.Stop(context.Background(), e.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("StreamLog did not return after the execution ended")
	}
	if got := h.wait(e.ID); got.Status != store.ExecutionStopped {
		t.Fatalf("execution ended %s", got.Status)
	}
	if !strings.Contains(out.String(), "Stage Build Stopped") || out.String() != h.log(e.ID) {
		t.Fatalf("the followed log is not the stored one:\n%s\n---\n%s", out.String(), h.log(e.ID))
	}
}

func TestBuildTimeout(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	if err := h.pipe.SetSettings(context.Background(), "web", Settings{BuildTimeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	h.commit(repo, "gated forever", map[string]string{"GATED": "x"})
	e := h.wait(h.push(repo).ID)
	if e.Status != store.ExecutionFailed || e.Stage(StageBuild).Status != store.StageFailed ||
		!strings.Contains(e.Error, "TIMED_OUT") || e.Stage(StageDeploy).Status != store.StageSkipped {
		t.Fatalf("execution = %s (%s), Build %s; want Failed with the build TIMED_OUT", e.Status, e.Error, e.Stage(StageBuild).Status)
	}
}
