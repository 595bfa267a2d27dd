package swarm

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
	"github.com/cutover/cutover/internal/store"
)

// TestControllerBlueGreenOnSwarm runs cutover's deployment controller,
// unchanged, with the swarm driver and cutover's proxy: a blue/green
// deployment under load fails no request.
func TestControllerBlueGreenOnSwarm(t *testing.T) {
	e := requireEngine(t)
	c := startController(t, e, e.newDriver(t, Options{}), e.image)
	if addrs := c.blueGreen(t); len(addrs) != 2 {
		t.Errorf("v2 tasks at %v; want 2", addrs)
	}
}

// controllerEnv is cutover's deployment controller and proxy over a swarm
// driver, with the test app registered.
type controllerEnv struct {
	ctrl *deploy.Controller
	d    *Driver
	cfg  config.App
}

// startController runs a controller over d and cutover's proxy, with the
// app (image, 2 tasks) registered, until the test ends; its tasks are
// removed then.
func startController(t *testing.T, e *testEngine, d *Driver, image string) *controllerEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(t.Context(), filepath.Join(dir, "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{})
	ctrl := deploy.New(deploy.Options{Store: st, Driver: d, Proxy: p, DataDir: dir, Tick: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	c := &controllerEnv{ctrl: ctrl, d: d, cfg: controllerApp(t, "sw"+e.runID, image, "v1")}
	t.Cleanup(func() {
		cancel()
		<-done
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		p.Close(cctx)
		tasks, _ := d.List(cctx)
		for _, task := range tasks {
			if task.App == c.cfg.Name {
				d.Remove(cctx, task.ID)
			}
		}
		st.Close()
	})
	select {
	case <-ctrl.Started():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("controller did not start")
	}
	if err := ctrl.PutApp(t.Context(), c.cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// blueGreen deploys v1, then v2 with load on the production listener all
// through v2's deployment, and fails the test if a request fails. It
// returns the addresses of the running tasks.
func (c *controllerEnv) blueGreen(t *testing.T) []string {
	t.Helper()
	deployAndWait(t, c.ctrl, c.cfg)
	get(t, c.cfg.Listeners.Production, "/")

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { load("http://"+c.cfg.Listeners.Production+"/", stop, &ok, &failed, &firstErr) })
	}
	v2 := controllerApp(t, c.cfg.Name, c.cfg.Service.Image, "v2")
	v2.Listeners = c.cfg.Listeners
	deployAndWait(t, c.ctrl, v2)
	close(stop)
	wg.Wait()
	t.Logf("blue/green on swarm through cutover's proxy: %d requests, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d of %d requests failed (first: %v); want none", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
	return c.running(t)
}

// running returns the addresses of the app's running tasks.
func (c *controllerEnv) running(t *testing.T) []string {
	t.Helper()
	tasks, err := c.d.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, task := range tasks {
		if task.App == c.cfg.Name && task.Running {
			addrs = append(addrs, task.Address)
		}
	}
	return addrs
}

func deployAndWait(t *testing.T, ctrl *deploy.Controller, cfg config.App) {
	t.Helper()
	dep, err := ctrl.Deploy(t.Context(), cfg.Name, deploy.RevisionSpec{Artifact: cfg.Service.Image, Config: &cfg})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dep, err = ctrl.Wait(ctx, dep.ID)
	if err != nil {
		t.Fatalf("waiting for %s: %v (step %s)", dep.ID, err, dep.Step)
	}
	if dep.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment %s ended %s: %s", dep.ID, dep.Status, dep.Error)
	}
}

// controllerApp is a fast blue/green configuration of the test app on the
// docker runtime (the swarm driver takes the same TaskSpec).
func controllerApp(t *testing.T, name, image, version string) config.App {
	return config.App{
		Name: name,
		Dir:  t.TempDir(),
		Service: config.Service{
			Runtime:     config.RuntimeDocker,
			Image:       image,
			Port:        8080,
			Count:       2,
			Env:         map[string]string{"VERSION": version},
			StopTimeout: 5 * time.Second,
		},
		Health: health.Config{Path: "/health", Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond,
			HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"},
		Listeners: config.Listeners{Production: freeAddr(t), Test: freeAddr(t)},
		Deploy: config.Deploy{
			Strategy:            config.StrategyBlueGreen,
			Traffic:             config.Traffic{Type: config.TrafficLinear, Percent: 34, Interval: time.Second},
			Rolling:             config.Rolling{MinHealthyPercent: 100, MaxPercent: 200, CircuitBreaker: true},
			TerminationWait:     time.Second,
			DeregistrationDelay: time.Second,
			ProgressDeadline:    60 * time.Second,
			Rollback:            config.Rollback{OnFailure: true},
		},
	}
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
