package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/store"
)

// recordingDeployer records what the Deploy stage asks for and answers
// that the deployment succeeded; the controller's docker runtime is
// tested in package deploy.
type recordingDeployer struct {
	mu    sync.Mutex
	specs []deploy.RevisionSpec
}

func (d *recordingDeployer) PutApp(ctx context.Context, app config.App) error { return nil }

func (d *recordingDeployer) Deploy(ctx context.Context, app string, spec deploy.RevisionSpec) (store.Deployment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.specs = append(d.specs, spec)
	return store.Deployment{ID: "web-d1", App: app, Status: store.DeploymentInProgress}, nil
}

func (d *recordingDeployer) Wait(ctx context.Context, id string) (store.Deployment, error) {
	return store.Deployment{ID: id, Status: store.DeploymentSucceeded}, nil
}

func TestDockerDeployStage(t *testing.T) {
	ctx := context.Background()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		t.Skipf("no Docker Engine: %v", err)
	}
	const appYAML = "name: web\nservice: {runtime: docker, port: 8080}\nlisteners: {production: \"127.0.0.1:1\"}\n"
	const imagedefs = `version: 0.2
phases:
  post_build:
    commands:
      - printf '[{"name":"web","imageUri":"registry.example/web:%s"}]' "$CODEBUILD_BUILD_NUMBER" > imagedefinitions.json
artifacts:
  files: [imagedefinitions.json]
`
	tests := []struct {
		name      string
		buildspec string
		image     string // cutover.yaml's service.image
		wantImage func(commit string) string
	}{
		{"image built from the Dockerfile", "", "", func(commit string) string { return "web:" + commit[:7] }},
		{"image named by imagedefinitions.json", imagedefs, "registry.example/web:old", func(string) string { return "registry.example/web:1" }},
		{"image named by cutover.yaml", "", "registry.example/web:latest", func(string) string { return "registry.example/web:latest" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			repo := t.TempDir()
			yaml := appYAML
			if tt.image != "" {
				yaml = strings.Replace(yaml, "port: 8080", "port: 8080, image: "+tt.image, 1)
			}
			files := map[string]string{"cutover.yaml": yaml, "Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "hi\n"}
			if tt.buildspec != "" {
				files["buildspec.yml"] = tt.buildspec
			}
			for name, content := range files {
				os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644)
			}
			gitRun(t, repo, "init", "-q", "-b", "main")
			gitRun(t, repo, "add", "-A")
			gitRun(t, repo, "commit", "-q", "-m", "docker app")
			commit := gitRun(t, repo, "rev-parse", "HEAD")

			cfg, err := config.LoadApp(repo)
			if err != nil {
				t.Fatal(err)
			}
			spec, _ := json.Marshal(cfg)
			if err := st.PutApp(ctx, store.App{Name: "web", Spec: spec}); err != nil {
				t.Fatal(err)
			}
			dep := &recordingDeployer{}
			p := New(Options{Store: st, Deployer: dep, Images: DockerImages{Client: cli}, DataDir: t.TempDir()})
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.Run(runCtx) }()
			defer func() { cancel(); <-done }()
			<-p.Started()

			e, err := p.Start(ctx, "web", StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got store.Execution
			waitFor(t, 60*time.Second, "the execution to end", func() bool {
				got, err = st.GetExecution(ctx, e.ID)
				return err == nil && !got.Active()
			})
			want := tt.wantImage(commit)
			defer cli.ImageRemove(ctx, "web:"+commit[:7], client.ImageRemoveOptions{Force: true})
			if got.Status != store.ExecutionSucceeded || got.Artifact != want {
				var log strings.Builder
				p.StreamLog(ctx, e.ID, &log, false)
				t.Fatalf("execution %s (%s), artifact %q; want Succeeded deploying %s\n%s", got.Status, got.Error, got.Artifact, want, log.String())
			}
			if len(dep.specs) != 1 || dep.specs[0].Artifact != want || dep.specs[0].Config.Service.Image != want || dep.specs[0].Commit != commit {
				t.Fatalf("deployed %+v, want image %s of %s", dep.specs, want, commit)
			}
			_, err = cli.ImageInspect(ctx, "web:"+commit[:7])
			if built, want := err == nil, tt.buildspec == "" && tt.image == ""; built != want {
				t.Fatalf("image web:%s built = %v, want %v", commit[:7], built, want)
			}
		})
	}
}
