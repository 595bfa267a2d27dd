package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Restarts, crashes and upgrades of cutover itself under constant load:
// the data plane runs on its own, so none of them may cost a request.

func (a *helloApp) prodAddr() string { return fmt.Sprintf("127.0.0.1:%d", a.prod) }

// unixClient talks HTTP to a unix socket.
func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// apiGet decodes GET path from the API socket of data into out.
func apiGet(data, path string, out any) error {
	res, err := unixClient(filepath.Join(data, "cutover.sock")).Get("http://cutover" + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(out)
}

type targetState struct{ Group, Target, State string }

// dataPlaneTargets reads the data plane's targets from its own socket.
func dataPlaneTargets(data string) ([]targetState, error) {
	c := unixClient(filepath.Join(data, "dataplane.sock"))
	c.Timeout = 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://dataplane/v1/events", nil)
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var ev struct{ Targets []targetState }
	return ev.Targets, json.Unmarshal(line, &ev)
}

// dataPlanePID returns the pid in <data>/dataplane.pid.
func dataPlanePID(t *testing.T, data string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "dataplane.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitAPI waits until the control plane answers on its socket.
func (a *helloApp) waitAPI(t *testing.T) {
	t.Helper()
	waitFor(t, "the control plane to answer", 30*time.Second, func() bool {
		var info struct{ Instance string }
		return apiGet(a.data, "/api/v1/system", &info) == nil && info.Instance != ""
	})
}

// checkAgreement waits until the store's live tasks, the processes and
// the data plane's registered targets are the same set.
func (a *helloApp) checkAgreement(t *testing.T) {
	t.Helper()
	var why string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if why = a.disagreement(); why == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("store, tasks and data plane disagree: %s", why)
}

func (a *helloApp) disagreement() string {
	var tasks []struct{ ID, State, Address, Handle, Driver string }
	if err := apiGet(a.data, "/api/v1/tasks?app=hello", &tasks); err != nil {
		return err.Error()
	}
	var live []string
	for _, task := range tasks {
		if task.State == "stopped" || task.State == "failed" {
			continue
		}
		if task.State != "healthy" {
			return fmt.Sprintf("task %s is %s", task.ID, task.State)
		}
		pid, _ := strconv.Atoi(task.Handle)
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			return fmt.Sprintf("task %s (pid %s) is healthy in the store but does not run", task.ID, task.Handle)
		}
		live = append(live, task.Address)
	}
	targets, err := dataPlaneTargets(a.data)
	if err != nil {
		return "data plane: " + err.Error()
	}
	var registered []string
	for _, tg := range targets {
		if tg.State != "draining" {
			registered = append(registered, tg.Target)
		}
	}
	slices.Sort(live)
	slices.Sort(registered)
	if len(live) != 3 || !slices.Equal(live, registered) {
		return fmt.Sprintf("live tasks %v, data plane targets %v", live, registered)
	}
	return ""
}

// buildVersion builds cutover with its version set to v.
func buildVersion(t *testing.T, v string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cutover-"+v)
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+v, "-o", bin, "../cmd/cutover")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cutover %s: %v\n%s", v, err, out)
	}
	return bin
}

// install puts the binary src at dst the way a package manager does: a
// new file renamed over the old one, which may be running.
func install(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".new", dst); err != nil {
		t.Fatal(err)
	}
}

func TestRestartsKillsAndUpgradesUnderLoad(t *testing.T) {
	const n = 3
	a := newHelloApp(t, nil)
	next := buildVersion(t, "e2e-next")
	bin := filepath.Join(t.TempDir(), "cutover")
	install(t, cutoverBin, bin)
	up := func() *process {
		return startBin(t, bin, "up", a.dir, "--data", a.data, "--api-addr", "")
	}
	p := up()
	a.waitVersion(t, "1.0.0", 60*time.Second)
	a.waitIdle(t)
	l := startStrictLoad(a.prodAddr(), 16)
	time.Sleep(500 * time.Millisecond)

	for i := range n {
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
		p = up()
		a.waitAPI(t)
		t.Logf("control-plane restart %d: %d requests so far", i+1, l.sent.Load())
	}
	for i := range n {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p = up()
		a.waitAPI(t)
		t.Logf("control-plane kill -9 %d: %d requests so far", i+1, l.sent.Load())
	}
	versions := []string{"e2e-next", "dev"}
	for i := range n {
		want := versions[i%2]
		install(t, map[string]string{"e2e-next": next, "dev": cutoverBin}[want], bin)
		out, code := run(t, "upgrade", "--data", a.data)
		if code != 0 {
			t.Fatalf("cutover upgrade exited %d:\n%s", code, out)
		}
		if !strings.Contains(out, fmt.Sprintf("now running: control plane %s, data plane %s", want, want)) {
			t.Errorf("upgrade %d to %s:\n%s", i+1, want, out)
		}
		t.Logf("upgrade %d:\n%s", i+1, out)
	}
	time.Sleep(500 * time.Millisecond)
	l.finish(t)
	a.checkAgreement(t)
}

func TestDataPlaneCrashIsRestarted(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	old := dataPlanePID(t, a.data)
	l := startStrictLoad(a.prodAddr(), 8)
	time.Sleep(300 * time.Millisecond)
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "a new data plane", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(a.data, "dataplane.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid != 0 && pid != old && syscall.Kill(pid, 0) == nil
	})
	time.Sleep(500 * time.Millisecond)
	close(l.stop)
	l.wg.Wait()
	// A crash of the data plane cuts the connections it had: at most one
	// request per worker. The control plane holds copies of the listening
	// sockets and restarts the data plane on them at once, so no connect
	// is refused meanwhile.
	t.Logf("data plane kill -9: %d requests, %d non-2xx, %d socket errors (%d connects failed)",
		l.sent.Load(), l.non2xx.Load(), l.socket.Load(), l.connect.Load())
	if n := l.connect.Load(); n != 0 {
		t.Errorf("%d connects failed while the data plane restarted; first failure: %v", n, l.first.Load())
	}
	if n := l.socket.Load() + l.non2xx.Load(); n > 8 {
		t.Errorf("%d requests failed; want at most the 8 in flight at the crash", n)
	}
	var events []struct{ Type string }
	if err := apiGet(a.data, "/api/v1/events?after=0", &events); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e struct{ Type string }) bool { return e.Type == "dataplane.restarted" }) {
		t.Error("no dataplane.restarted event in the log")
	}
	a.waitVersion(t, "1.0.0", 5*time.Second)
	a.checkAgreement(t)
}

// lifecycleSteps of a blue/green deployment, in order, at which the
// control plane is killed.
var lifecycleSteps = []string{"BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
	"BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "TerminationWait", "TerminateOriginal"}

// pausingHooks gives every hookable step a hook that takes a moment, so
// that the control plane can be killed while it runs.
func pausingHooks(cfg string) string {
	cfg = strings.Replace(cfg, "termination_wait: 1s", "termination_wait: 3s", 1)
	cfg += "  hooks:\n"
	for _, h := range []string{"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"} {
		cfg += "    " + h + ": [./pause.sh]\n"
	}
	return cfg
}

// waitStep waits until deployment id has begun step.
func (a *helloApp) waitStep(t *testing.T, id, step string) {
	t.Helper()
	waitFor(t, id+" to reach "+step, 60*time.Second, func() bool {
		var d struct {
			Status    string
			Lifecycle []struct{ Name, Status string }
		}
		if apiGet(a.data, "/api/v1/deployments/"+id, &d) != nil {
			return false
		}
		if d.Status != "InProgress" && d.Status != "Created" {
			t.Fatalf("%s ended %s before %s", id, d.Status, step)
		}
		return slices.ContainsFunc(d.Lifecycle, func(e struct{ Name, Status string }) bool { return e.Name == step })
	})
}

// lastDeployment returns the newest deployment's id and status.
func (a *helloApp) lastDeployment(t *testing.T) (string, string) {
	t.Helper()
	out, _ := run(t, "history", "hello", "--data", a.data, "--json")
	var deps []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(out), &deps); err != nil || len(deps) == 0 {
		t.Fatalf("history: %v\n%s", err, out)
	}
	return deps[0].ID, deps[0].Status
}

func TestKillNineAtEveryBlueGreenStep(t *testing.T) {
	a := newHelloApp(t, pausingHooks)
	writeFile(t, filepath.Join(a.dir, "pause.sh"), "#!/bin/sh\nsleep 1\n")
	p := a.up(t, "1.0.0")
	l := startStrictLoad(a.prodAddr(), 8)
	serving := "1.0.0"
	for i, step := range lifecycleSteps {
		version := fmt.Sprintf("%d.0.0", i+2)
		if out, code := a.deploy(t, "--env", "APP_VERSION="+version, "--no-wait"); code != 0 {
			t.Fatalf("deploy %s: exit %d\n%s", version, code, out)
		}
		id := fmt.Sprintf("hello-d%d", i+2)
		a.waitStep(t, id, step)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p = start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
		a.waitIdle(t)
		last, status := a.lastDeployment(t)
		t.Logf("killed at %s: %s ended %s", step, last, status)
		switch {
		case last != id:
			t.Fatalf("killed at %s: the last deployment is %s, want %s", step, last, id)
		case status == "Succeeded":
			serving = version
		case status != "RolledBack":
			t.Fatalf("killed at %s: %s ended %s, want Succeeded or RolledBack", step, id, status)
		}
		a.waitVersion(t, serving, 10*time.Second)
		a.checkAgreement(t)
	}
	l.finish(t)
}

func TestKillNineDuringRollingUpdate(t *testing.T) {
	a := newHelloApp(t, func(cfg string) string {
		cfg = strings.Replace(cfg, "strategy: blue_green", "strategy: rolling", 1)
		cfg = strings.Replace(cfg, "  traffic: {type: linear, percent: 25, interval: 1s}\n", "", 1)
		return cfg + "  rolling: {min_healthy_percent: 100, max_percent: 150}\n"
	})
	p := a.up(t, "1.0.0")
	l := startStrictLoad(a.prodAddr(), 8)
	if out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0", "--no-wait"); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	// Kill once the first new task serves, with old ones still running.
	waitFor(t, "the rolling update to serve 2.0.0", 60*time.Second, func() bool {
		_, body := get(newClient(), a.url())
		return strings.Contains(body, `"2.0.0"`)
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	a.waitIdle(t)
	if id, status := a.lastDeployment(t); status != "Succeeded" {
		t.Fatalf("%s ended %s after the kill, want Succeeded", id, status)
	}
	a.waitVersion(t, "2.0.0", 10*time.Second)
	l.finish(t)
	a.checkAgreement(t)
}
