package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/runtime/process"
	"github.com/cutover/cutover/internal/store"
)

// webBin is the test app's binary, built once by TestMain.
var webBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipeline-test-web-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "web"), "./testdata/web")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test app:", err)
		os.Exit(1)
	}
	webBin = filepath.Join(dir, "web")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testToken is the API token the harness's pipeline accepts as a push
// password.
const testToken = "cot_test-token"

// portBase gives each harness its own range of task ports.
var portBase atomic.Int32

// harness is a pipeline with a real store, deployment controller,
// process runtime and load balancer, its handler served on 127.0.0.1.
type harness struct {
	t        *testing.T
	dir      string
	store    *store.Store
	ctrl     *deploy.Controller
	pipe     *Pipeline
	host     string // the pipeline handler's host:port
	prodAddr string
	testAddr string
	gates    string // a build waits for gates/<version> when its buildspec says so
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, store: st, prodAddr: freeAddr(t), testAddr: freeAddr(t), gates: filepath.Join(dir, "gates")}
	os.MkdirAll(h.gates, 0o755)

	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	base := 41000 + int(portBase.Add(1))*100
	drv, err := process.New(process.Options{StateDir: filepath.Join(dir, "tasks"), PortMin: base, PortMax: base + 99, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	px := proxy.New(proxy.Options{Logger: log})
	h.ctrl = deploy.New(deploy.Options{Store: st, Driver: drv, Proxy: px, Logger: log, DataDir: dir, Tick: 100 * time.Millisecond})
	h.pipe = New(Options{Store: st, Deployer: h.ctrl, DataDir: dir, Logger: log,
		BuildEnv:       map[string]string{"WEB_BIN": webBin, "GATES": h.gates},
		CheckPushToken: func(ctx context.Context, token string) bool { return token == testToken }})

	runCtx, cancel := context.WithCancel(ctx)
	ctrlDone, pipeDone := make(chan error, 1), make(chan error, 1)
	go func() { ctrlDone <- h.ctrl.Run(runCtx) }()
	go func() { pipeDone <- h.pipe.Run(runCtx) }()
	for _, started := range []<-chan struct{}{h.ctrl.Started(), h.pipe.Started()} {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the controller or the pipeline did not start")
		}
	}
	srv := httptest.NewServer(h.pipe.Handler())
	h.host = strings.TrimPrefix(srv.URL, "http://")

	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-pipeDone
		<-ctrlDone
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelClose()
		px.Close(closeCtx)
		tasks, _ := drv.List(closeCtx)
		var wg sync.WaitGroup
		for _, task := range tasks {
			if task.Running {
				wg.Go(func() { drv.Stop(closeCtx, task.ID, time.Second) })
			}
		}
		wg.Wait()
		drv.Close()
		st.Close()
	})
	return h
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// appYAML is the test app's cutover.yaml: fast health checks and an
// all-at-once blue/green deployment with short waits.
func (h *harness) appYAML() string {
	return fmt.Sprintf(`name: web
service:
  command: [./web]
  port: 8080
  env: {GREETING: "built #{BuildVariables.BUILT_VERSION} from #{SourceVariables.CommitId}"}
  stop_timeout: 5s
health: {path: /health, interval: 500ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2}
listeners: {production: "%s", test: "%s"}
deploy:
  strategy: blue_green
  traffic: all_at_once
  termination_wait: 0s
  deregistration_delay: 1s
  progress_deadline: 30s
  rollback: {on_failure: true, alarms: []}
`, h.prodAddr, h.testAddr)
}

// buildspec is the test app's buildspec: its "tests" fail when the
// commit has a file named FAIL; it waits for $GATES/<version> when the
// commit has a file named GATED; it uses the cache; it exports
// BUILT_VERSION; its artifacts are the binary and version.txt.
const buildspec = `version: 0.2
env:
  exported-variables: [BUILT_VERSION]
phases:
  pre_build:
    commands:
      - mkdir -p .buildcache
      - if [ -f .buildcache/last ]; then echo "cache from build $(cat .buildcache/last)"; else echo "cache empty"; fi
      - echo "$CODEBUILD_BUILD_NUMBER" > .buildcache/last
  build:
    commands:
      - echo running tests
      - if [ -f FAIL ]; then echo "test failed" && exit 1; fi
      - if [ -f GATED ]; then while [ ! -f "$GATES/$(cat version.txt)" ]; do sleep 0.05; done; fi
      - cp "$WEB_BIN" web
      - BUILT_VERSION=$(cat version.txt)
artifacts:
  files: [web, version.txt]
cache:
  paths: [.buildcache/**/*]
`

// newRepo makes the app's working repository with version 1 committed
// on main, and registers the app (as `cutover up` would).
func (h *harness) newRepo() string {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), "web")
	os.MkdirAll(dir, 0o755)
	gitRun(h.t, dir, "init", "-q", "-b", "main")
	h.commit(dir, "version 1", map[string]string{"cutover.yaml": h.appYAML(), "buildspec.yml": buildspec, "version.txt": "1\n"})
	cfg, err := config.LoadApp(dir)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.ctrl.PutApp(context.Background(), *cfg); err != nil {
		h.t.Fatal(err)
	}
	return dir
}

// commit writes files ("" removes one) and commits them; it returns the
// commit.
func (h *harness) commit(dir, msg string, files map[string]string) string {
	h.t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if content == "" {
			os.Remove(path)
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	gitRun(h.t, dir, "add", "-A")
	gitRun(h.t, dir, "commit", "-q", "-m", msg)
	return gitRun(h.t, dir, "rev-parse", "HEAD")
}

// push pushes HEAD to the app's branch on the built-in remote and
// returns the execution it started.
func (h *harness) push(dir string) store.Execution {
	h.t.Helper()
	secret, err := h.pipe.Secret(context.Background(), "web")
	if err != nil {
		h.t.Fatal(err)
	}
	gitRun(h.t, dir, "push", "-q", "-f", "http://git:"+secret+"@"+h.host+"/git/web.git", "HEAD:main")
	head := gitRun(h.t, dir, "rev-parse", "HEAD")
	es, err := h.pipe.List(context.Background(), "web", 1)
	if err != nil || len(es) == 0 || es[0].Commit != head {
		h.t.Fatalf("after the push of %s the newest execution is %+v (%v)", head, es, err)
	}
	return es[0]
}

// wait waits for the execution to end and returns it.
func (h *harness) wait(id string) store.Execution {
	h.t.Helper()
	var e store.Execution
	waitFor(h.t, 60*time.Second, "execution "+id+" to end", func() bool {
		var err error
		e, err = h.store.GetExecution(context.Background(), id)
		return err == nil && !e.Active()
	})
	return e
}

// waitStage waits until the execution's stage has the status.
func (h *harness) waitStage(id, stage, status string) {
	h.t.Helper()
	waitFor(h.t, 30*time.Second, id+" "+stage+" "+status, func() bool {
		e, err := h.store.GetExecution(context.Background(), id)
		return err == nil && e.Stage(stage) != nil && e.Stage(stage).Status == status
	})
}

// open lets a gated build of version v go on.
func (h *harness) open(v string) {
	os.WriteFile(filepath.Join(h.gates, v), nil, 0o644)
}

// get returns the body production serves at /.
func (h *harness) get() (string, error) {
	resp, err := http.Get("http://" + h.prodAddr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// log returns an execution's stored log.
func (h *harness) log(id string) string {
	var b strings.Builder
	if err := h.pipe.StreamLog(context.Background(), id, &b, false); err != nil {
		h.t.Fatal(err)
	}
	return b.String()
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
