package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// load sends requests to production until stop is called, counting the
// failed ones.
type load struct {
	failed, ok atomic.Int64
	mu         sync.Mutex
	lastErr    string
	stop       chan struct{}
	done       sync.WaitGroup
}

func startLoad(h *harness) *load {
	l := &load{stop: make(chan struct{})}
	for range 4 {
		l.done.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if _, err := h.get(); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.lastErr = err.Error()
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *load) end() (ok, failed int64, lastErr string) {
	close(l.stop)
	l.done.Wait()
	return l.ok.Load(), l.failed.Load(), l.lastErr
}

func TestPushBuildDeploy(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()

	first := h.wait(h.push(repo).ID)
	if first.Status != store.ExecutionSucceeded {
		t.Fatalf("first execution ended %s: %s\n%s", first.Status, first.Error, h.log(first.ID))
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 1 built 1 from "+first.Commit) {
		t.Fatalf("production serves %q, %v; want version 1 with the exported variable and commit", body, err)
	}

	l := startLoad(h)
	v2 := h.commit(repo, "version 2", map[string]string{"version.txt": "2\n"})
	second := h.wait(h.push(repo).ID)
	ok, failed, lastErr := l.end()
	if second.Status != store.ExecutionSucceeded {
		t.Fatalf("second execution ended %s: %s\n%s", second.Status, second.Error, h.log(second.ID))
	}
	if failed > 0 || ok == 0 {
		t.Fatalf("%d of %d requests failed during the deployment (last: %s)", failed, failed+ok, lastErr)
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 2 built 2 from "+v2) {
		t.Fatalf("production serves %q, %v; want version 2", body, err)
	}

	// What the execution records.
	if second.Commit != v2 || second.Message != "version 2" || second.Trigger != TriggerPush || second.DeploymentID == "" {
		t.Fatalf("execution = %+v", second)
	}
	for _, st := range second.Stages {
		if st.Status != store.StageSucceeded || st.StartedAt.IsZero() || st.EndedAt.Before(st.StartedAt) {
			t.Errorf("stage %+v did not succeed with timings", st)
		}
	}
	if got := second.Variables["BuildVariables.BUILT_VERSION"]; got != "2" {
		t.Errorf("exported BUILT_VERSION = %q, want 2", got)
	}
	d, err := h.store.GetDeployment(context.Background(), second.DeploymentID)
	if err != nil || d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment %s: %+v, %v", second.DeploymentID, d, err)
	}
	rev, err := h.store.GetRevision(context.Background(), d.ToRevision)
	if err != nil || rev.Commit != v2 || rev.Artifact != second.Artifact {
		t.Fatalf("revision %+v, %v; want commit %s, artifact %s", rev, err, v2, second.Artifact)
	}
	// The artifacts, not the checkout, became the release.
	if _, err := os.Stat(filepath.Join(second.Artifact, "buildspec.yml")); err == nil {
		t.Errorf("release %s holds buildspec.yml, which is not an artifact", second.Artifact)
	}

	// The second build found the first one's cache.
	log := h.log(second.ID)
	if !strings.Contains(log, "cache from build 1") || !strings.Contains(h.log(first.ID), "cache empty") {
		t.Errorf("the second build did not reuse the cache; its log:\n%s", log)
	}
	for _, want := range []string{"running tests", "Entering stage Deploy", "Deployment " + second.DeploymentID} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// The execution's changes are in the event log.
	events, err := h.store.Events(context.Background(), store.EventFilter{App: "web",
		Types: []string{store.EventExecutionStatus, store.EventExecutionStage}})
	if err != nil || len(events) < 8 {
		t.Fatalf("%d pipeline events, %v; want the stages and statuses of two executions", len(events), err)
	}
}

func TestFailingTestKeepsProduction(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	if e := h.wait(h.push(repo).ID); e.Status != store.ExecutionSucceeded {
		t.Fatalf("first execution ended %s: %s", e.Status, e.Error)
	}
	deployments, _ := h.store.ListDeployments(context.Background(), "web", 0)

	h.commit(repo, "version 2, broken", map[string]string{"version.txt": "2\n", "FAIL": "x"})
	e := h.wait(h.push(repo).ID)
	if e.Status != store.ExecutionFailed || e.Stage(StageBuild).Status != store.StageFailed ||
		e.Stage(StageDeploy).Status != store.StageSkipped || e.DeploymentID != "" {
		t.Fatalf("execution = %+v; want Failed in Build, Deploy skipped", e)
	}
	if !strings.Contains(e.Error, "BUILD") || !strings.Contains(h.log(e.ID), "test failed") {
		t.Errorf("error %q or log do not say the build failed:\n%s", e.Error, h.log(e.ID))
	}
	after, _ := h.store.ListDeployments(context.Background(), "web", 0)
	if len(after) != len(deployments) {
		t.Errorf("a failed build made a deployment: %d deployments, before %d", len(after), len(deployments))
	}
	if body, err := h.get(); err != nil || !strings.HasPrefix(body, "version 1 ") {
		t.Fatalf("production serves %q, %v; want version 1 still", body, err)
	}
}
