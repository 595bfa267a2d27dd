package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helloApp copies examples/hello-node into a temp dir with its listeners
// moved to free ports, quick shifts, and edit applied to cutover.yaml.
type helloApp struct {
	dir        string
	data       string
	prod, test int
}

func newHelloApp(t *testing.T, edit func(yaml string) string) *helloApp {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is needed for examples/hello-node; scripts/test.sh installs it")
	}
	a := &helloApp{dir: filepath.Join(t.TempDir(), "hello"), data: filepath.Join(t.TempDir(), "data"), prod: freePort(t), test: freePort(t)}
	copyDir(t, "../examples/hello-node", a.dir)
	cfg := readFile(t, filepath.Join(a.dir, "cutover.yaml"))
	cfg = strings.Replace(cfg, `production: "127.0.0.1:8080"`, fmt.Sprintf(`production: "127.0.0.1:%d"`, a.prod), 1)
	cfg = strings.Replace(cfg, `test: "127.0.0.1:8090"`, fmt.Sprintf(`test: "127.0.0.1:%d"`, a.test), 1)
	cfg = strings.Replace(cfg, "interval: 5s", "interval: 1s", 1) // linear 25% every 1s
	cfg = strings.Replace(cfg, "termination_wait: 30s", "termination_wait: 1s", 1)
	cfg = strings.Replace(cfg, "deregistration_delay: 5s", "deregistration_delay: 1s", 1)
	if edit != nil {
		cfg = edit(cfg)
	}
	writeFile(t, filepath.Join(a.dir, "cutover.yaml"), cfg)
	// Registered first, so it runs after cutover has been stopped.
	t.Cleanup(func() { checkNoTasksLeft(t, a.data) })
	return a
}

// checkNoTasksLeft fails the test if a process still runs in a release
// directory under data, or in data itself (the data plane): cutover must
// stop its tasks and its data plane when it is stopped with SIGINT.
// Leftovers are killed.
func checkNoTasksLeft(t *testing.T, data string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cwd, err := os.Readlink(filepath.Join(p, "cwd"))
		// Tasks run in release directories under data; the data plane
		// runs in data itself.
		if err != nil || (cwd != data && !strings.HasPrefix(cwd, data+string(filepath.Separator))) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		stat, _ := os.ReadFile(filepath.Join(p, "stat"))
		t.Errorf("process %d (%s; %s) still runs in %s after cutover stopped", pid, strings.ReplaceAll(string(cmdline), "\x00", " "), stat, cwd)
		if log, err := os.ReadFile(filepath.Join(data, "dataplane.log")); err == nil {
			t.Logf("dataplane.log:\n%s", log)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (a *helloApp) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", a.prod) }

// up starts `cutover up` and waits until production answers with version.
func (a *helloApp) up(t *testing.T, version string) *process {
	t.Helper()
	p := start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	a.waitVersion(t, version, 60*time.Second)
	a.waitIdle(t)
	return p
}

// waitIdle waits until the app's last deployment has ended.
func (a *helloApp) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, "the last deployment to end", 60*time.Second, func() bool {
		out, code := run(t, "history", "hello", "--data", a.data, "--json")
		if code != 0 {
			return false
		}
		var deps []struct{ Status string }
		if err := json.Unmarshal([]byte(out), &deps); err != nil || len(deps) == 0 {
			return false
		}
		return deps[0].Status != "InProgress" && deps[0].Status != "Created"
	})
}

func (a *helloApp) waitVersion(t *testing.T, version string, timeout time.Duration) {
	t.Helper()
	client := newClient()
	waitFor(t, "production to answer with version "+version, timeout, func() bool {
		code, body := get(client, a.url())
		return code == 200 && strings.Contains(body, `"version":"`+version+`"`)
	})
}

// deploy runs `cutover deploy` and returns its output and exit code.
func (a *helloApp) deploy(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return run(t, append([]string{"deploy", a.dir, "--data", a.data}, args...)...)
}

func TestUpDeploysAndBlueGreenUnderLoad(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 8)

	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0")
	if code != 0 {
		t.Fatalf("cutover deploy exited %d:\n%s", code, out)
	}
	for _, step := range []string{"BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
		"BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "Succeeded"} {
		if !strings.Contains(out, step) {
			t.Errorf("deploy output lacks %s:\n%s", step, out)
		}
	}
	l.finish(t)
	if n := l.count(`{"message":"Hello from cutover","version":"2.0.0"}` + "\n"); n == 0 {
		t.Error("no request reached version 2.0.0 during the deployment")
	}
	a.waitVersion(t, "2.0.0", 5*time.Second)
	client := newClient()
	for range 20 {
		if _, body := get(client, a.url()); !strings.Contains(body, `"2.0.0"`) {
			t.Fatalf("after the deployment production still answers %q", body)
		}
	}

	status, code := run(t, "status", "--data", a.data)
	if code != 0 || !regexp.MustCompile(`hello\s+hello-r2\s+3/3`).MatchString(status) {
		t.Errorf("cutover status (exit %d):\n%s", code, status)
	}
}

func TestDeployWithBadConfigChangesNothing(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 4)

	cfg := readFile(t, filepath.Join(a.dir, "cutover.yaml"))
	writeFile(t, filepath.Join(a.dir, "cutover.yaml"), strings.Replace(cfg, "count: 3", "count: 0", 1))
	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0")
	if code == 0 {
		t.Fatalf("deploy of an invalid cutover.yaml exited 0:\n%s", out)
	}
	if !regexp.MustCompile(`cutover\.yaml:\d+:\d+: service\.count: 0 is out of range; valid: 1-1000`).MatchString(out) {
		t.Errorf("the error does not point at the field:\n%s", out)
	}
	time.Sleep(time.Second)
	l.finish(t)
	a.waitVersion(t, "1.0.0", time.Second)
}

func TestFailingTestTrafficHookRollsBackBeforeProductionMoves(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 4)

	writeFile(t, filepath.Join(a.dir, "scripts", "smoke.sh"), "#!/bin/sh\necho smoke test failed >&2\nexit 3\n")
	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0")
	if code == 0 {
		t.Fatalf("a deployment whose AfterAllowTestTraffic hook fails exited 0:\n%s", out)
	}
	if !strings.Contains(out, "RolledBack") {
		t.Errorf("deploy output does not say RolledBack:\n%s", out)
	}
	l.finish(t)
	if n := l.count(`{"message":"Hello from cutover","version":"2.0.0"}` + "\n"); n != 0 {
		t.Errorf("%d production requests reached the new version before its test-traffic hook passed", n)
	}
	a.waitVersion(t, "1.0.0", time.Second)
}

func TestSecondDeployWhileOneRunsIsRefused(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	cfg := readFile(t, filepath.Join(a.dir, "cutover.yaml"))
	writeFile(t, filepath.Join(a.dir, "cutover.yaml"), cfg+"  ready_wait: {wait: 1m, manual: true}\n")

	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0", "--no-wait", "--json")
	if code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	var d struct{ ID string }
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.ID == "" {
		t.Fatalf("deploy --json output: %v\n%s", err, out)
	}
	out, code = a.deploy(t, "--env", "APP_VERSION=3.0.0")
	if code == 0 || !strings.Contains(out, d.ID) || !strings.Contains(out, "InProgress") {
		t.Errorf("second deploy while %s runs: exit %d\n%s", d.ID, code, out)
	}
	// The held deployment moves on only with continue.
	time.Sleep(2 * time.Second)
	a.waitVersion(t, "1.0.0", time.Second)
	waitFor(t, "the deployment to reach its ready wait", 30*time.Second, func() bool {
		_, code := run(t, "continue", d.ID, "--data", a.data)
		return code == 0
	})
	a.waitIdle(t)
	a.waitVersion(t, "2.0.0", time.Second)
}

func TestKillNineMidCanaryThenRestartFinishes(t *testing.T) {
	a := newHelloApp(t, func(cfg string) string {
		return strings.Replace(cfg, "traffic: {type: linear, percent: 25, interval: 1s}", "traffic: {type: canary, percent: 10, wait: 6s}", 1)
	})
	p := a.up(t, "1.0.0")
	client := newClient()

	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0", "--no-wait")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	// Wait for the canary: some production requests reach 2.0.0.
	waitFor(t, "the canary to serve version 2.0.0", 60*time.Second, func() bool {
		_, body := get(client, a.url())
		return strings.Contains(body, `"2.0.0"`)
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done

	restarted := time.Now()
	start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	waitFor(t, "production to answer again after the restart", 30*time.Second, func() bool {
		code, _ := get(client, a.url())
		return code == 200
	})
	t.Logf("production answered %s after the restart began", time.Since(restarted).Round(10*time.Millisecond))
	a.waitIdle(t)
	out, _ = run(t, "history", "hello", "--data", a.data, "--json")
	var deps []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(out), &deps); err != nil || len(deps) == 0 || deps[0].ID != "hello-d2" || deps[0].Status != "Succeeded" {
		t.Fatalf("the resumed deployment did not succeed: %v\n%s", err, out)
	}
	for range 20 {
		if _, body := get(client, a.url()); !strings.Contains(body, `"2.0.0"`) {
			t.Fatalf("after the resumed deployment production answers %q", body)
		}
	}
}

func newClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == ".cutover" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFailingHealthCheckRollsBack(t *testing.T) {
	a := newHelloApp(t, func(cfg string) string {
		return cfg + "  progress_deadline: 20s\n"
	})
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 4)

	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0", "--env", "BROKEN=1")
	if code == 0 {
		t.Fatalf("a version that fails its health check was deployed:\n%s", out)
	}
	if !strings.Contains(out, "RolledBack") && !strings.Contains(out, "Failed") {
		t.Errorf("deploy output does not say it failed:\n%s", out)
	}
	l.finish(t)
	a.waitVersion(t, "1.0.0", time.Second)
}

func TestErrorRateAlarmRollsBackCanary(t *testing.T) {
	a := newHelloApp(t, func(cfg string) string {
		cfg = strings.Replace(cfg, "traffic: {type: linear, percent: 25, interval: 1s}", "traffic: {type: canary, percent: 20, wait: 30s}", 1)
		return strings.Replace(cfg, "{metric: error_rate, above: 0.05, for: 10s}", "{metric: error_rate, above: 0.05, for: 3s}", 1)
	})
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 4)

	started := time.Now()
	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0", "--env", "ERROR_RATE=0.3")
	if code == 0 {
		t.Fatalf("a version answering 500 to 30%% of requests was deployed:\n%s", out)
	}
	if !strings.Contains(out, "RolledBack") {
		t.Errorf("deploy output does not say RolledBack:\n%s", out)
	}
	if took := time.Since(started); took > 25*time.Second {
		t.Errorf("the alarm rolled back after %s, later than the 30s canary wait allows to tell", took)
	}
	close(l.stop)
	l.wg.Wait()
	t.Logf("load during the canary: %d requests, %d answered 500 by the canary", l.sent.Load(), l.failed.Load())
	a.waitVersion(t, "1.0.0", time.Second)
	client := newClient()
	for range 50 {
		if code, body := get(client, a.url()); code != 200 || !strings.Contains(body, `"1.0.0"`) {
			t.Fatalf("after the rollback production answered %d %q", code, body)
		}
	}
}

func TestRollingUpdateUnderLoad(t *testing.T) {
	a := newHelloApp(t, func(cfg string) string {
		cfg = strings.Replace(cfg, "strategy: blue_green", "strategy: rolling", 1)
		cfg = strings.Replace(cfg, "  traffic: {type: linear, percent: 25, interval: 1s}\n", "", 1)
		return cfg + "  rolling: {min_healthy_percent: 50, max_percent: 150}\n"
	})
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 8)

	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0")
	if code != 0 {
		t.Fatalf("rolling update exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, "RollingUpdate") {
		t.Errorf("deploy output does not show the rolling update:\n%s", out)
	}
	l.finish(t)
	a.waitVersion(t, "2.0.0", 5*time.Second)
	tasks, _ := run(t, "tasks", "hello", "--data", a.data, "--json")
	var list []struct{ Revision, State string }
	if err := json.Unmarshal([]byte(tasks), &list); err != nil {
		t.Fatalf("tasks --json: %v\n%s", err, tasks)
	}
	live := 0
	for _, task := range list {
		if task.State != "stopped" {
			live++
			if task.Revision != "hello-r2" {
				t.Errorf("task of %s still %s after the rolling update", task.Revision, task.State)
			}
		}
	}
	if live != 3 {
		t.Errorf("%d live tasks after the rolling update, want 3", live)
	}
}

func TestBadAppSpecChangesNothing(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	spec := readFile(t, filepath.Join(a.dir, "appspec.yaml"))
	writeFile(t, filepath.Join(a.dir, "appspec.yaml"), strings.Replace(spec, "version: 0.0", "version: 0.1", 1))
	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0")
	if code == 0 {
		t.Fatalf("deploy with an invalid appspec.yaml exited 0:\n%s", out)
	}
	if !regexp.MustCompile(`appspec\.yaml:\d+:\d+: version: "0.1" is not supported; the only valid value is 0.0`).MatchString(out) {
		t.Errorf("the error does not point at the field:\n%s", out)
	}
	a.waitVersion(t, "1.0.0", time.Second)
	hist, _ := run(t, "history", "hello", "--data", a.data, "--json")
	if strings.Contains(hist, "hello-d2") {
		t.Errorf("a deployment was created from an invalid appspec:\n%s", hist)
	}
}
