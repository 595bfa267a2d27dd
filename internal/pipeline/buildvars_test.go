package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// An app's build variables (`cutover env set --build`) reach its
// pipeline's build, a secret one masked in the log; its config vars win
// over cutover.yaml's env in the pipeline's deployment.
func TestBuildVarsAndConfigVarsInThePipeline(t *testing.T) {
	h := newHarness(t)
	repo := h.newRepo()
	ctx := context.Background()
	err := h.store.ChangeConfigVars(ctx, "web", store.ScopeBuild, []store.ConfigVar{
		{Name: "BUILD_FLAG", Value: "plain-flag"}, {Name: "NPM_TOKEN", Value: "s3cret-npm-77", Secret: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.ChangeConfigVars(ctx, "web", store.ScopeRun, []store.ConfigVar{{Name: "GREETING", Value: "greeting-from-the-store"}}, nil); err != nil {
		t.Fatal(err)
	}
	spec := strings.Replace(buildspec, "      - echo running tests\n",
		"      - echo running tests\n      - echo \"flag=$BUILD_FLAG token=$NPM_TOKEN\"\n", 1)
	h.commit(repo, "echo the build variables", map[string]string{"buildspec.yml": spec})

	e := h.wait(h.push(repo).ID)
	log := h.log(e.ID)
	if e.Status != store.ExecutionSucceeded {
		t.Fatalf("execution ended %s: %s\n%s", e.Status, e.Error, log)
	}
	if !strings.Contains(log, "flag=plain-flag token=***") || strings.Contains(log, "s3cret-npm-77") {
		t.Errorf("the build log lacks the variables, or shows the secret:\n%s", log)
	}
	if body, err := h.get(); err != nil || !strings.Contains(body, "greeting-from-the-store") {
		t.Errorf("production serves %q, %v; want the store's GREETING over cutover.yaml's", body, err)
	}
}
