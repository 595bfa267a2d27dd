package swarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// The two-node test runs a second dockerd on this machine, in its own
// network namespace joined to the host by a veth pair on a private /30,
// and joins it as a worker to a swarm advertised on the host's end of the
// link. It needs root, iproute2 and nsenter, and it replaces the Engine's
// swarm with that one while it runs (a single-node swarm on the old
// address is made again at the end), so it runs only when asked;
// scripts/test.sh asks when the swarm is one it made:
//
//	CUTOVER_SWARM_MULTINODE=1 go test -run Multinode ./internal/runtime/swarm/
const multinodeEnv = "CUTOVER_SWARM_MULTINODE"

// The test host's private link and the worker's names.
const (
	managerAddr  = "10.250.0.1"
	workerAddr   = "10.250.0.2"
	linkCIDR     = "10.250.0.0/30"
	netnsName    = "cutover-swarm-worker"
	vethHost     = "cutover-sw0"
	vethWorker   = "cutover-sw1"
	workerCgroup = "cutover-swarm-worker"
)

func multinode() bool { return os.Getenv(multinodeEnv) == "1" }

// linkSwarm replaces the Engine's swarm with one advertised on
// managerAddr, on a new link to the worker's namespace. When the test
// ends, failed or not, a single-node swarm on the Engine's old address
// takes its place again and the link is deleted.
func linkSwarm(t *testing.T, e *testEngine) {
	t.Helper()
	if err := createLink(); err != nil {
		t.Fatalf("creating the worker's network namespace: %v", err)
	}
	t.Cleanup(deleteLink)
	t.Cleanup(func() {
		if err := e.newSwarm(client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: e.nodeAddr}); err != nil {
			t.Errorf("making the single-node swarm again: %v", err)
		}
	})
	// Heartbeats every 2 s instead of 5: the manager marks a lost node
	// down after three periods, ~6 s.
	spec := swarm.Spec{Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: 2 * time.Second}}
	if err := e.newSwarm(client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: managerAddr, Spec: spec}); err != nil {
		t.Fatal(err)
	}
}

// newSwarm makes the Engine leave its swarm, if it is in one, and start a
// new one with opts.
func (e *testEngine) newSwarm(opts client.SwarmInitOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := e.client.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("asking the Engine about its swarm: %w", err)
	}
	if info.Info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive {
		if _, err := e.client.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
			return fmt.Errorf("leaving the swarm: %w", err)
		}
	}
	if _, err := e.client.SwarmInit(ctx, opts); err != nil {
		return fmt.Errorf("initialising a swarm advertised on %s: %w", opts.AdvertiseAddr, err)
	}
	return nil
}

// createLink makes the worker's network namespace and the veth pair that
// joins it to the host: managerAddr on the host, workerAddr inside.
func createLink() error {
	steps := [][]string{
		{"netns", "add", netnsName},
		{"link", "add", vethHost, "type", "veth", "peer", "name", vethWorker},
		{"link", "set", vethWorker, "netns", netnsName},
		{"addr", "add", managerAddr + "/30", "dev", vethHost},
		{"link", "set", vethHost, "up"},
		{"-n", netnsName, "addr", "add", workerAddr + "/30", "dev", vethWorker},
		{"-n", netnsName, "link", "set", vethWorker, "up"},
		{"-n", netnsName, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			deleteLink()
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// deleteLink removes the namespace; the veth pair goes with it.
func deleteLink() {
	exec.Command("ip", "netns", "del", netnsName).Run()
	exec.Command("ip", "link", "del", vethHost).Run()
}

// workerDir holds the worker's data, sockets and log: a fixed place, like
// its namespace and cgroup, so that a run finds what a killed one left.
var workerDir = filepath.Join(os.TempDir(), "cutover-swarm-worker")

// clearLeftovers removes what a run killed before its cleanup (a test
// timeout, Ctrl-C) left behind: the worker, the link and the trust in a
// registry on it.
func clearLeftovers(t *testing.T) {
	(&worker{dir: workerDir}).clear(t)
	deleteLink()
	trusted, _ := filepath.Glob(filepath.Join(certsDir, managerAddr+":*"))
	for _, dir := range trusted {
		os.RemoveAll(dir)
	}
}

// worker is the second dockerd, a Swarm worker node.
type worker struct {
	dir    string
	cmd    *exec.Cmd
	client *client.Client
	nodeID string
}

// startWorker starts the second dockerd in the worker namespace and joins
// it to the test swarm. Its teardown runs when the test ends, failed or
// not: processes killed, mounts detached, files and node removed.
func startWorker(t *testing.T, e *testEngine) *worker {
	t.Helper()
	dir := workerDir
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w := &worker{dir: dir}
	t.Cleanup(func() { w.teardown(t, e) })

	sock := filepath.Join(dir, "docker.sock")
	logFile, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// nsenter enters the network namespace only: "ip netns exec" would
	// also remount /sys, hiding the cgroup mounts dockerd needs.
	w.cmd = exec.Command("nsenter", "--net=/var/run/netns/"+netnsName, "dockerd",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", "unix://"+sock,
		"--cgroup-parent", "/"+workerCgroup,
		"--insecure-registry", linkCIDR,
	)
	w.cmd.Stdout, w.cmd.Stderr = logFile, logFile
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("starting the worker dockerd: %v", err)
	}
	go w.cmd.Wait()

	w.client, err = client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		_, err := w.client.Ping(t.Context(), client.PingOptions{NegotiateAPIVersion: true})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("worker dockerd did not answer: %v\n%s", err, tail(string(log), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}

	sw, err := e.client.SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.SwarmJoin(t.Context(), client.SwarmJoinOptions{
		ListenAddr:    workerAddr + ":2377",
		AdvertiseAddr: workerAddr,
		RemoteAddrs:   []string{managerAddr + ":2377"},
		JoinToken:     sw.Swarm.JoinTokens.Worker,
	}); err != nil {
		t.Fatalf("joining the worker to the swarm: %v", err)
	}
	info, err := w.client.Info(t.Context(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.nodeID = info.Info.Swarm.NodeID
	waitNode(t, e, w.nodeID, swarm.NodeStateReady, 30*time.Second)
	return w
}

// waitNode waits until the manager sees node id in state.
func waitNode(t *testing.T, e *testEngine, id string, state swarm.NodeState, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := e.client.NodeInspect(t.Context(), id, client.NodeInspectOptions{})
		if err == nil && n.Node.Status.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not %s after %s (err %v)", id, state, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// kill ends every process of the worker, as if its machine went away:
// dockerd, its containerd and shims (all in the namespace) and the
// containers (under the worker's cgroup parent).
func (w *worker) kill() {
	for range 10 {
		pids := w.pids()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pids lists the worker's processes.
func (w *worker) pids() []int {
	var pids []int
	if out, err := exec.Command("ip", "netns", "pids", netnsName).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	procs, _ := filepath.Glob("/sys/fs/cgroup/pids/" + workerCgroup + "/*/cgroup.procs")
	for _, file := range procs {
		data, _ := os.ReadFile(file)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func (w *worker) teardown(t *testing.T, e *testEngine) {
	if w.client != nil {
		w.client.Close()
	}
	w.clear(t)
	if w.nodeID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := e.client.NodeRemove(ctx, w.nodeID, client.NodeRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing the worker node: %v", err)
		}
	}
}

// clear kills the worker's processes and removes its mounts, files and
// cgroups.
func (w *worker) clear(t *testing.T) {
	w.kill()
	// dockerd shares the host's mount namespace: detach what it mounted.
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var mounts []string
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 4 && strings.HasPrefix(f[4], w.dir) {
				mounts = append(mounts, f[4])
			}
		}
		slices.Sort(mounts)
		slices.Reverse(mounts)
		for _, m := range mounts {
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(w.dir); err != nil {
		t.Errorf("removing the worker's files: %v", err)
	}
	// The containers' cgroups, then the parent: rmdir removes a cgroup
	// directory once its processes are gone.
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/" + workerCgroup)
	for _, cg := range cgroups {
		entries, _ := os.ReadDir(cg)
		for _, entry := range entries {
			if entry.IsDir() {
				os.Remove(filepath.Join(cg, entry.Name()))
			}
		}
		if err := os.Remove(cg); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("removing the worker's cgroup: %v", err)
		}
	}
}

// roundRobin is a stand-in for cutover's load balancer: it spreads
// requests over its current targets, which a deployment swaps.
type roundRobin struct {
	targets atomic.Pointer[[]string]
	next    atomic.Uint64
}

func (rr *roundRobin) set(addrs ...string) { rr.targets.Store(&addrs) }

func (rr *roundRobin) handler() http.Handler {
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		targets := *rr.targets.Load()
		addr := targets[rr.next.Add(1)%uint64(len(targets))]
		r.SetURL(&url.URL{Scheme: "http", Host: addr})
	}}
}

// load sends requests through url until stop is closed and counts them.
func load(url string, stop <-chan struct{}, ok, failed *atomic.Int64, firstErr *atomic.Value) {
	c := http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			continue
		}
		ok.Add(1)
	}
}

func TestMultinodeBlueGreenAndNodeLoss(t *testing.T) {
	if !multinode() {
		t.Skipf("skipping: set %s=1 to run the two-node swarm test (root, iproute2, nsenter)", multinodeEnv)
	}
	e := requireEngine(t)
	clearLeftovers(t)
	linkSwarm(t, e)
	w := startWorker(t, e)

	// Images reach the worker through cutover's registry on the link,
	// over TLS: the Engine pulls over plain HTTP from loopback only.
	addr, rootCAs := startTLSRegistry(t, managerAddr+":0")
	image := addr + "/cutover-test/hello:" + e.runID
	pushTLS(t, image, appImage(t), rootCAs)
	removeImage(t, e, image)
	d := e.newDriver(t, Options{RegistryAuth: registryAuth(t, addr), StartTimeout: time.Minute})

	onNode := func(name, role string) runtime.TaskSpec {
		spec := e.spec(t, name, nil)
		spec.Image = image
		spec.StopTimeout = 5 * time.Second
		spec.Labels[ConstraintLabel] = "node.role==" + role
		return spec
	}
	startAt := func(spec runtime.TaskSpec, host string) runtime.Task {
		task := start(t, d, spec)
		if h, _, _ := net.SplitHostPort(task.Address); h != host {
			t.Fatalf("task %s at %s; want it on %s", spec.ID, task.Address, host)
		}
		get(t, task.Address, "/")
		return task
	}

	blue := []runtime.Task{
		startAt(onNode("blue-m", "manager"), managerAddr),
		startAt(onNode("blue-w", "worker"), workerAddr),
	}
	rr := &roundRobin{}
	rr.set(blue[0].Address, blue[1].Address)
	proxy := httptest.NewServer(rr.handler())
	defer proxy.Close()

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { load(proxy.URL, stop, &ok, &failed, &firstErr) })
	}

	green := []runtime.Task{
		startAt(onNode("green-m", "manager"), managerAddr),
		startAt(onNode("green-w", "worker"), workerAddr),
	}
	rr.set(green[0].Address, green[1].Address)
	time.Sleep(time.Second) // deregistration delay: requests to blue finish
	for _, task := range blue {
		if exit, err := d.Stop(t.Context(), task.ID, 0); err != nil {
			t.Errorf("Stop(%s): %v", task.ID, err)
		} else if exit.Code != 0 && exit.Code != -1 {
			t.Errorf("Stop(%s) = %+v; want a graceful end", task.ID, exit)
		}
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("blue/green across two nodes: %d requests, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d of %d requests failed (first: %v); want none", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}

	// The same through cutover's controller and proxy: Swarm spreads the
	// tasks over both nodes.
	c := startController(t, e, d, image)
	addrs := c.blueGreen(t)
	hosts := map[string]bool{}
	for _, a := range addrs {
		h, _, _ := net.SplitHostPort(a)
		hosts[h] = true
	}
	if len(addrs) != 2 || !hosts[managerAddr] || !hosts[workerAddr] {
		t.Errorf("v2 tasks at %v; want one on each node", addrs)
	}

	// The worker's machine goes away: its task is reported as ended, so
	// that cutover drains it and starts a replacement; the manager's task
	// keeps running.
	w.kill()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	exit, err := d.Wait(ctx, green[1].ID)
	if err != nil {
		t.Fatalf("Wait(%s) after the node was lost: %v", green[1].ID, err)
	}
	if !strings.HasPrefix(exit.Reason, reasonNodeLost) {
		t.Errorf("Exit = %+v; want %q", exit, reasonNodeLost)
	}
	if listed := find(t, d, green[0].ID); !listed.Running {
		t.Errorf("manager's task = %+v; want it still running", listed)
	}
	get(t, green[0].Address, "/")

	// The controller saw its task on the worker end too, and replaced it
	// on the node that is left; the app keeps serving.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		addrs := c.running(t)
		onManager := 0
		for _, a := range addrs {
			if h, _, _ := net.SplitHostPort(a); h == managerAddr {
				onManager++
			}
		}
		if onManager == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("controller's tasks at %v two minutes after the node was lost; want 2 on %s", addrs, managerAddr)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for range 10 {
		get(t, c.cfg.Listeners.Production, "/")
	}

	// A replacement lands on the node that is left.
	replacement := e.spec(t, "green-r", nil)
	replacement.Image = image
	startAt(replacement, managerAddr)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
