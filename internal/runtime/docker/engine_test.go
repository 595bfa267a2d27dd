package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// The tests in this file's package that need a Docker Engine share one
// image, built on first use, and one run id. Every container they create
// carries labelTestRun=<run id>; TestMain removes the image at the end and
// fails the run if any such container is left.

// requireDockerEnv makes engine tests fail, instead of skip, when no
// Engine answers. scripts/test.sh sets it.
const requireDockerEnv = "CUTOVER_REQUIRE_DOCKER"

// labelTestRun marks what one test run created.
const labelTestRun = "cutover.test.run"

// testEngine is what the engine tests share.
type testEngine struct {
	once   sync.Once
	runID  string
	client *client.Client
	image  string
	// unreachable: no Engine answered; err: why engine tests cannot run.
	unreachable bool
	err         error
}

var engine = &testEngine{runID: randomHex(4)}

func TestMain(m *testing.M) {
	code := m.Run()
	if engine.client != nil {
		if err := engine.cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// requireEngine returns the shared engine, building the test image on
// first use. Without an Engine it skips the test, or fails it when
// CUTOVER_REQUIRE_DOCKER=1; it fails it when the image does not build.
func requireEngine(t *testing.T) *testEngine {
	t.Helper()
	engine.once.Do(engine.setup)
	if engine.err != nil {
		if !engine.unreachable || os.Getenv(requireDockerEnv) == "1" {
			t.Fatalf("Docker Engine required (%s=1): %v", requireDockerEnv, engine.err)
		}
		t.Skipf("skipping: no usable Docker Engine (set %s=1 to fail instead): %v", requireDockerEnv, engine.err)
	}
	return engine
}

func (e *testEngine) setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.New(client.FromEnv)
	if err != nil {
		e.err = err
		return
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		e.unreachable = true
		e.err = fmt.Errorf("connecting to Docker Engine at %s: %w", c.DaemonHost(), err)
		return
	}
	e.client = c
	e.image = "cutover-test-app:" + e.runID
	e.err = buildImage(ctx, c, e.image, e.runID)
}

// buildImage builds testdata/app into a FROM scratch image tagged tag.
func buildImage(ctx context.Context, c *client.Client, tag, runID string) error {
	dir, err := os.MkdirTemp("", "cutover-docker-test")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "app")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./testdata/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building test app: %v\n%s", err, out)
	}
	app, err := os.ReadFile(bin)
	if err != nil {
		return err
	}

	var buildContext bytes.Buffer
	tw := tar.NewWriter(&buildContext)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n")},
		{"app", 0o755, app},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}

	res, err := c.ImageBuild(ctx, &buildContext, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{labelTestRun: runID},
	})
	if err != nil {
		return fmt.Errorf("building image %s: %w", tag, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("building image %s: reading progress: %w", tag, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("building image %s: %s", tag, msg.Error)
		}
	}
}

// cleanup removes the test image and reports (and removes) any container
// of this run that a test left behind.
func (e *testEngine) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer e.client.Close()
	left, err := e.containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range left {
		e.client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
	}
	if _, err := e.client.ImageRemove(ctx, e.image, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintf(os.Stderr, "removing test image %s: %v\n", e.image, err)
	}
	if len(left) > 0 {
		var names []string
		for _, c := range left {
			names = append(names, strings.Join(c.Names, ","))
		}
		return fmt.Errorf("tests leaked %d containers: %s", len(left), strings.Join(names, " "))
	}
	return nil
}

// containerSummary is what leak checks need of a container.
type containerSummary struct {
	ID    string
	Names []string
}

// containers lists this run's managed containers, in all states.
func (e *testEngine) containers(ctx context.Context) ([]containerSummary, error) {
	res, err := e.client.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).
			Add("label", labelManaged+"=true").
			Add("label", labelTestRun+"="+e.runID),
	})
	if err != nil {
		return nil, fmt.Errorf("listing test containers: %w", err)
	}
	var out []containerSummary
	for _, c := range res.Items {
		out = append(out, containerSummary{ID: c.ID, Names: c.Names})
	}
	return out, nil
}

// newDriver returns a Driver on the shared engine with its own client.
func (e *testEngine) newDriver(t *testing.T, opts Options) *Driver {
	t.Helper()
	d, err := New(t.Context(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// spec returns a TaskSpec running the test app, with a task id unique to
// the test and name.
func (e *testEngine) spec(t *testing.T, name string, env map[string]string) runtime.TaskSpec {
	id := fmt.Sprintf("test-%s-%s-%s", e.runID, sanitize(t.Name()), name)
	allEnv := map[string]string{"TASK": id}
	for k, v := range env {
		allEnv[k] = v
	}
	return runtime.TaskSpec{
		ID:          id,
		App:         "hello",
		Revision:    "rev1",
		Image:       e.image,
		Env:         allEnv,
		Port:        8080,
		StopTimeout: 10 * time.Second,
		Labels:      map[string]string{labelTestRun: e.runID},
	}
}

// start starts spec and removes the task when the test ends.
func start(t *testing.T, d *Driver, spec runtime.TaskSpec) runtime.Task {
	t.Helper()
	task, err := d.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start(%s): %v", spec.ID, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Remove(ctx, spec.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Remove(%s): %v", spec.ID, err)
		}
	})
	return task
}

// assertNoContainer fails the test if task id has a container.
func (e *testEngine) assertNoContainer(t *testing.T, id string) {
	t.Helper()
	_, err := e.client.ContainerInspect(t.Context(), containerName(id), client.ContainerInspectOptions{})
	if err == nil {
		t.Errorf("container %s exists; want it removed", containerName(id))
	} else if !cerrdefs.IsNotFound(err) {
		t.Errorf("inspecting %s: %v", containerName(id), err)
	}
}

// get fetches http://addr/path, retrying while the app is not yet
// listening (for up to 10s).
func get(t *testing.T, addr, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := tryGet(addr, path)
		if err == nil {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET http://%s%s: %v", addr, path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tryGet(addr, path string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", resp.Status, body)
	}
	return string(body), nil
}

// logs returns all of task id's output so far.
func logs(t *testing.T, d *Driver, id string) string {
	t.Helper()
	rc, err := d.Logs(t.Context(), id, runtime.LogOptions{Tail: -1})
	if err != nil {
		t.Fatalf("Logs(%s): %v", id, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading logs of %s: %v", id, err)
	}
	return string(out)
}

// waitForLog polls task id's logs until they contain want (up to 10s):
// the Engine copies output to its log asynchronously.
func waitForLog(t *testing.T, d *Driver, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := logs(t, d, id)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s never contained %q; got:\n%s", id, want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '-'
	}, s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
