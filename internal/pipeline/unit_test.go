package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{
		"BuildVariables.VERSION":           "1.2.3",
		"SourceVariables.CommitId":         "abc123",
		"codepipeline.PipelineExecutionId": "web-e7",
	}
	cfg := config.App{Service: config.Service{
		Command: []string{"./web", "--version=#{BuildVariables.VERSION}"},
		Image:   "web:#{SourceVariables.CommitId}",
		Env:     map[string]string{"A": "#{codepipeline.PipelineExecutionId}", "B": "#{BuildVariables.MISSING}", "C": "plain #{not a ref}"},
	}}
	got := substitute(cfg, vars)
	want := map[string]string{"A": "web-e7", "B": "#{BuildVariables.MISSING}", "C": "plain #{not a ref}"}
	for k, v := range want {
		if got.Service.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, got.Service.Env[k], v)
		}
	}
	if got.Service.Command[1] != "--version=1.2.3" || got.Service.Image != "web:abc123" {
		t.Errorf("command %q, image %q", got.Service.Command, got.Service.Image)
	}
	if cfg.Service.Command[1] != "--version=#{BuildVariables.VERSION}" || cfg.Service.Env["A"] != "#{codepipeline.PipelineExecutionId}" {
		t.Errorf("substitute changed its input: %+v", cfg.Service)
	}
}

func TestReadImageDefinitions(t *testing.T) {
	tests := []struct {
		name, content, want string
		ok                  bool
		wantErr             string
	}{
		{"missing file", "", "", false, ""},
		{"the app's entry", `[{"name":"db","imageUri":"db:1"},{"name":"web","imageUri":"reg/web:abc"}]`, "reg/web:abc", true, ""},
		{"the only entry", `[{"name":"sample-app","imageUri":"web:2"}]`, "web:2", true, ""},
		{"no entry for the app", `[{"name":"a","imageUri":"a:1"},{"name":"b","imageUri":"b:1"}]`, "", false, "no image"},
		{"not JSON", `{`, "", false, "imagedefinitions.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "imagedefinitions.json")
			if tt.content != "" {
				os.WriteFile(path, []byte(tt.content), 0o644)
			}
			got, ok, err := readImageDefinitions(path, "web")
			if got != tt.want || ok != tt.ok || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("= %q, %v, %v; want %q, %v, error with %q", got, ok, err, tt.want, tt.ok, tt.wantErr)
			}
		})
	}
}

// TestRunFailsOrphans: executions a stopped cutover left running end
// Failed when the pipeline starts again.
func TestRunFailsOrphans(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutApp(ctx, store.App{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	e, err := st.CreateExecution(ctx, store.Execution{App: "web", Stages: []store.Stage{
		{Name: StageSource, Status: store.StageSucceeded}, {Name: StageBuild, Status: store.StageInProgress}, {Name: StageDeploy, Status: store.StagePending}}})
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{Store: st, DataDir: t.TempDir()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	<-p.Started()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e, err = st.GetExecution(ctx, e.ID)
	if err != nil || e.Status != store.ExecutionFailed || e.Stage(StageBuild).Status != store.StageFailed ||
		e.Stage(StageDeploy).Status != store.StageSkipped || !strings.Contains(e.Error, "cutover stopped") {
		t.Fatalf("orphaned execution = %+v, %v", e, err)
	}
}

func TestSettingsCheck(t *testing.T) {
	tests := []struct {
		s  Settings
		ok bool
	}{
		{Settings{}, true},
		{Settings{Mode: ModeQueued, Approval: true, ApprovalTimeout: time.Hour, PollInterval: time.Minute}, true},
		{Settings{Mode: "PARALLEL"}, false},
		{Settings{PollInterval: 10 * time.Millisecond}, false},
		{Settings{BuildTimeout: -time.Second}, false},
	}
	for _, tt := range tests {
		if err := tt.s.check(); (err == nil) != tt.ok {
			t.Errorf("check(%+v) = %v, want ok %v", tt.s, err, tt.ok)
		}
	}
}
