package swarm

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

	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// The engine tests share one Engine, which the first of them makes a
// single-node Swarm manager when it is not in a swarm yet (and makes leave
// it at the end; the two-node test swaps in a swarm of its own while it
// runs), one test image and one run id. Every service they create
// carries labelTestRun=<run id>; TestMain fails the run if any is left.

// requireDockerEnv makes engine tests fail, instead of skip, when no
// Engine answers. scripts/test.sh sets it.
const requireDockerEnv = "CUTOVER_REQUIRE_DOCKER"

// labelTestRun marks what one test run created.
const labelTestRun = "cutover.test.run"

type testEngine struct {
	once         sync.Once
	runID        string
	client       *client.Client
	image        string
	nodeAddr     string // the manager node's address
	createdSwarm bool
	unreachable  bool
	err          error
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

// requireEngine returns the shared engine, a Swarm manager with the test
// image. Without an Engine it skips the test, or fails it when
// CUTOVER_REQUIRE_DOCKER=1.
func requireEngine(t *testing.T) *testEngine {
	t.Helper()
	engine.once.Do(engine.setup)
	if engine.err != nil {
		if !engine.unreachable || os.Getenv(requireDockerEnv) == "1" {
			t.Fatalf("Docker Engine with Swarm required (%s=1): %v", requireDockerEnv, engine.err)
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
	if _, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{}); err != nil {
		// Not in a swarm: make this Engine a single-node one, advertised
		// on loopback.
		if _, err := c.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "127.0.0.1"}); err != nil {
			e.err = fmt.Errorf("initialising a single-node swarm: %w", err)
			return
		}
		e.createdSwarm = true
	}
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		e.err = err
		return
	}
	e.nodeAddr = info.Info.Swarm.NodeAddr
	if e.nodeAddr == managerAddr {
		// The two-node test's swarm, left by a run killed before its
		// cleanup: a single-node one takes its place.
		if err := e.newSwarm(client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "127.0.0.1"}); err != nil {
			e.err = err
			return
		}
		e.nodeAddr, e.createdSwarm = "127.0.0.1", true
	}
	e.image = "cutover-swarm-test-app:" + e.runID
	bin, err := buildApp(ctx)
	if err != nil {
		e.err = err
		return
	}
	e.err = buildImage(ctx, c, e.image, e.runID, bin)
}

// buildApp builds the docker driver's testdata/app as a static Linux
// binary and returns it.
func buildApp(ctx context.Context) ([]byte, error) {
	dir, err := os.MkdirTemp("", "cutover-swarm-test")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "app")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "../docker/testdata/app") // the docker driver's test app
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building test app: %v\n%s", err, out)
	}
	return os.ReadFile(bin)
}

// buildImage builds a FROM scratch image running app, tagged tag.
func buildImage(ctx context.Context, c *client.Client, tag, runID string, app []byte) error {
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
	return readProgress(res.Body)
}

// readProgress drains an Engine progress stream and returns its error.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading progress: %w", err)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

// cleanup removes the test image and any service of this run a test left
// behind (reporting it), and leaves the swarm if setup created it.
func (e *testEngine) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer e.client.Close()
	left, err := e.services(ctx)
	if err != nil {
		return err
	}
	for _, name := range left {
		e.client.ServiceRemove(ctx, name, client.ServiceRemoveOptions{})
	}
	if len(left) > 0 {
		// Give Swarm time to remove the containers before the image.
		time.Sleep(3 * time.Second)
	}
	if e.image != "" {
		if _, err := e.client.ImageRemove(ctx, e.image, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			fmt.Fprintf(os.Stderr, "removing test image %s: %v\n", e.image, err)
		}
	}
	if e.createdSwarm {
		if _, err := e.client.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
			fmt.Fprintf(os.Stderr, "leaving the test swarm: %v\n", err)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("tests leaked %d services: %s", len(left), strings.Join(left, " "))
	}
	return nil
}

// services lists the names of this run's services.
func (e *testEngine) services(ctx context.Context) ([]string, error) {
	res, err := e.client.ServiceList(ctx, client.ServiceListOptions{
		Filters: make(client.Filters).Add("label", labelTestRun+"="+e.runID),
	})
	if err != nil {
		return nil, fmt.Errorf("listing test services: %w", err)
	}
	var names []string
	for _, s := range res.Items {
		names = append(names, s.Spec.Name)
	}
	return names, nil
}

// newDriver returns a Driver on the shared engine with its own client.
func (e *testEngine) newDriver(t *testing.T, opts Options) *Driver {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
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
	id := fmt.Sprintf("t%s-%s-%s", e.runID, sanitize(t.Name()), name)
	if len(id) > 54 {
		id = id[:45] + "-" + randomHex(4)
	}
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
	t.Cleanup(func() { remove(t, d, spec.ID) })
	return task
}

func remove(t *testing.T, d *Driver, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Remove(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove(%s): %v", id, err)
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

// waitForLog polls task id's logs until they contain want (up to 15s):
// Swarm copies output to its log asynchronously.
func waitForLog(t *testing.T, d *Driver, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := logs(t, d, id, runtime.LogOptions{Tail: -1})
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s never contained %q; got:\n%s", id, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func logs(t *testing.T, d *Driver, id string, opts runtime.LogOptions) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rc, err := d.Logs(ctx, id, opts)
	if err != nil {
		t.Fatalf("Logs(%s): %v", id, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil && ctx.Err() == nil {
		t.Fatalf("reading logs of %s: %v", id, err)
	}
	return string(out)
}

func sanitize(s string) string {
	s = strings.TrimPrefix(s, "Test")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
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
