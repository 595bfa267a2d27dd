package deploy

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/runtime/process"
	"github.com/cutover/cutover/internal/store"
)

// portBase gives each test environment its own range of task ports, so
// drivers of different tests never hand out the same port.
var portBase atomic.Int32

// env is a controller with a real store, process driver and proxy.
type env struct {
	t        *testing.T
	dir      string
	store    *store.Store
	proxy    *proxy.Proxy
	driver   *process.Driver
	ctrl     *Controller
	cancel   context.CancelFunc
	done     chan error
	prodAddr string
	testAddr string
	ports    [2]int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir())
}

// newEnvIn is newEnv with dir as the data directory.
func newEnvIn(t *testing.T, dir string) *env {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(dir, "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	base := 30000 + int(portBase.Add(1))*200
	e := &env{t: t, dir: dir, store: st, prodAddr: freeAddr(t), testAddr: freeAddr(t), ports: [2]int{base, base + 199}}
	t.Cleanup(func() {
		e.kill()
		e.stopAllTasks()
		st.Close()
	})
	e.startController()
	return e
}

// startController starts a controller with a new proxy and driver on the
// env's store and state directory.
func (e *env) startController() {
	t := e.t
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	drv, err := process.New(process.Options{StateDir: filepath.Join(e.dir, "tasks"), PortMin: e.ports[0], PortMax: e.ports[1], Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.driver = drv
	e.proxy = proxy.New(proxy.Options{Logger: log})
	e.ctrl = New(Options{Store: e.store, Driver: drv, Proxy: e.proxy, Logger: log, DataDir: e.dir, Tick: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	ctrl := e.ctrl
	go func() { e.done <- ctrl.Run(ctx) }()
	select {
	case <-ctrl.Started():
	case err := <-e.done:
		e.done <- err
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("controller did not start")
	}
}

// kill ends the controller the way a crash would, as far as a test can:
// no cleanup of tasks or deployments; the proxy's sockets and the
// driver's goroutines go, as they would with the process.
func (e *env) kill() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	e.cancel = nil
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.proxy.Close(ctx)
	e.driver.Close()
}

// stopAllTasks stops what the tests left running.
func (e *env) stopAllTasks() {
	drv, err := process.New(process.Options{StateDir: filepath.Join(e.dir, "tasks"), PortMin: e.ports[0], PortMax: e.ports[1]})
	if err != nil {
		return
	}
	defer drv.Close()
	tasks, _ := drv.List(context.Background())
	var wg sync.WaitGroup
	for _, task := range tasks {
		if task.Running {
			wg.Go(func() { drv.Stop(context.Background(), task.ID, time.Second) })
		}
	}
	wg.Wait()
}

// nextListenerPort hands out listener ports from 20000-28999, below the
// ephemeral range (32768+): a restarted controller binds its listeners
// again, and a port of the ephemeral range may meanwhile have become the
// local port of some client connection. Each test binary starts at a
// random point of the range.
var nextListenerPort atomic.Int32

func init() { nextListenerPort.Store(int32(rand.IntN(9000))) }

// freeAddr returns a free address for a listener, below the ephemeral
// range.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 9000 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+int(nextListenerPort.Add(1))%9000)
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port for a listener in 20000-28999")
	return ""
}

// appConfig is a fast configuration of the test app: checks every
// 500ms, thresholds 2, a 1s deregistration delay, linear traffic in 1s
// steps, a 1s termination wait.
func (e *env) appConfig(version string) config.App {
	return config.App{
		Name: "web",
		Dir:  webRelease,
		Service: config.Service{
			Runtime:     config.RuntimeProcess,
			Command:     []string{"./web"},
			Count:       2,
			Env:         map[string]string{"VERSION": version},
			StopTimeout: 5 * time.Second,
		},
		Health: health.Config{Path: "/health", Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond,
			HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"},
		Listeners: config.Listeners{Production: e.prodAddr, Test: e.testAddr},
		Deploy: config.Deploy{
			Strategy:            config.StrategyBlueGreen,
			Traffic:             config.Traffic{Type: config.TrafficLinear, Percent: 34, Interval: time.Second},
			Rolling:             config.Rolling{MinHealthyPercent: 100, MaxPercent: 200, CircuitBreaker: true},
			TerminationWait:     time.Second,
			DeregistrationDelay: time.Second,
			ProgressDeadline:    20 * time.Second,
			Rollback: config.Rollback{OnFailure: true, MinRequests: 20,
				Alarms: []config.Alarm{{Metric: config.MetricErrorRate, Above: 0.05, For: 5 * time.Second}}},
		},
	}
}

// deploy deploys cfg and waits for the deployment to end.
func (e *env) deploy(cfg config.App) store.Deployment {
	e.t.Helper()
	d, err := e.ctrl.Deploy(e.t.Context(), cfg.Name, RevisionSpec{Artifact: webRelease, Config: &cfg})
	if err != nil {
		e.t.Fatalf("Deploy: %v", err)
	}
	return e.wait(d.ID)
}

func (e *env) wait(id string) store.Deployment {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 60*time.Second)
	defer cancel()
	d, err := e.ctrl.Wait(ctx, id)
	if err != nil {
		e.t.Fatalf("waiting for %s: %v (step %s)", id, err, d.Step)
	}
	return d
}

// setup registers the app and deploys v1 as its first revision.
func (e *env) setup(cfg config.App) {
	e.t.Helper()
	if err := e.ctrl.PutApp(e.t.Context(), cfg); err != nil {
		e.t.Fatal(err)
	}
	if d := e.deploy(cfg); d.Status != store.DeploymentSucceeded {
		e.t.Fatalf("first deployment ended %s: %s", d.Status, d.Error)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load sends requests to a URL from a few goroutines until stopped,
// counting failures (errors and non-200 answers) and versions seen.
type load struct {
	url      string
	sent     atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	versions map[string]int64
	errs     []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, addr string) *load {
	l := &load{url: "http://" + addr + "/", versions: map[string]int64{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for range 3 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.once(client)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	t.Cleanup(l.finish)
	return l
}

func (l *load) once(client *http.Client) {
	l.sent.Add(1)
	resp, err := client.Get(l.url)
	if err != nil {
		l.fail(err.Error())
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.fail(resp.Status + ": " + strings.TrimSpace(string(body)))
		return
	}
	l.mu.Lock()
	l.versions[resp.Header.Get("X-Version")]++
	l.mu.Unlock()
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 5 {
		l.errs = append(l.errs, msg)
	}
	l.mu.Unlock()
}

// finish stops the load; it is idempotent.
func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// checkNoFailures stops the load and fails the test if any request failed.
func (l *load) checkNoFailures(t *testing.T) {
	t.Helper()
	l.finish()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("load: %d requests, %d failed, versions %v", l.sent.Load(), l.failed.Load(), l.versions)
	// A floor that shows the load ran, low enough for a loaded machine
	// (a run in the full suite sent 99 during a resumed rollback).
	if l.sent.Load() < 20 {
		t.Errorf("only %d requests were sent", l.sent.Load())
	}
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed, e.g. %v", n, l.sent.Load(), l.errs)
	}
}

// versionNow asks the production listener a few times and returns the
// versions that answered.
func versionsNow(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			out["error"]++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out[resp.Header.Get("X-Version")]++
	}
	return out
}

// liveTasks returns the app's tasks the store lists as not stopped, by revision.
func (e *env) liveTasks(app string) map[string]int {
	e.t.Helper()
	tasks, err := e.store.ListTasks(e.t.Context(), store.TaskFilter{App: app, Live: true})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, task := range tasks {
		out[task.Revision]++
	}
	return out
}
