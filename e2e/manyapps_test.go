package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostApp is one of several copies of examples/hello-node that share one
// production listener by host name, under one cutover started without an
// app directory.
type hostApp struct {
	name, host, dir string
	test            int
}

// TestThreeAppsShareAListenerByHost: one `cutover up` with no directory,
// three apps on one listener by host. A successful deployment, a rolled-
// back deployment, a crash-looping deployment and the destruction of app b
// under constant load on all three fail no request of a and c (nor of b
// until it is destroyed); a fourth app claiming b's host is refused naming
// b, and gets the host once b is destroyed.
func TestThreeAppsShareAListenerByHost(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { checkNoTasksLeft(t, data) })
	prod := freePort(t)
	start(t, "up", "--data", data, "--api-addr", "")
	waitFor(t, "cutover to answer", 30*time.Second, func() bool {
		_, code := run(t, "apps", "--data", data)
		return code == 0
	})

	apps := map[string]*hostApp{}
	for _, name := range []string{"a", "b", "c"} {
		apps[name] = newHostApp(t, name, name+".example.test", prod, "")
		deployHostApp(t, data, apps[name], "Succeeded", "--env", "APP_VERSION="+name+"-1")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", prod)
	for _, a := range apps {
		waitHostVersion(t, addr, a.host, a.name+"-1")
	}
	if code, _ := getHost(addr, "nobody.example.test"); code != http.StatusNotFound && code != http.StatusServiceUnavailable {
		t.Errorf("a host no app claims answered %d, want 404 or 503", code)
	}

	thief := newHostApp(t, "thief", "b.example.test", prod, "")
	out, code := run(t, "deploy", thief.dir, "--data", data)
	if code == 0 || !strings.Contains(out, "already claimed by app b") {
		t.Fatalf("an app claiming b's host: exit %d, want refused naming b:\n%s", code, out)
	}

	loads := map[string]*strictLoad{}
	for name, a := range apps {
		loads[name] = startHostLoad(addr, a.host, 2)
	}
	b := apps["b"]
	deployHostApp(t, data, b, "Succeeded", "--env", "APP_VERSION=b-2")
	waitHostVersion(t, addr, b.host, "b-2")
	deployHostApp(t, data, b, "RolledBack", "--env", "APP_VERSION=b-3", "--env", "BROKEN=1")
	crashing := newHostApp(t, "b", b.host, prod, `[node, -e, "process.exit(1)"]`)
	deployHostApp(t, data, crashing, "", "--env", "APP_VERSION=b-4")
	waitHostVersion(t, addr, b.host, "b-2")
	loads["b"].finish(t)

	out, code = run(t, "apps", "destroy", "b", "--confirm", "b", "--data", data)
	if code != 0 {
		t.Fatalf("cutover apps destroy b: exit %d\n%s", code, out)
	}
	for _, name := range []string{"a", "c"} {
		loads[name].finish(t)
	}
	if out, _ := run(t, "apps", "--data", data); strings.Contains(out, "\nb ") {
		t.Errorf("b is still listed after destroy:\n%s", out)
	}
	deployHostApp(t, data, thief, "Succeeded", "--env", "APP_VERSION=thief-1")
	waitHostVersion(t, addr, b.host, "thief-1")
	for _, name := range []string{"a", "c"} {
		waitHostVersion(t, addr, apps[name].host, name+"-1")
	}

	out, code = run(t, "apps", "destroy", "a", "--data", data)
	if code == 0 || !strings.Contains(out, "--confirm a") {
		t.Errorf("destroy without --confirm: exit %d, want refused asking for it:\n%s", code, out)
	}
	if out, code := run(t, "apps", "destroy", "nope", "--confirm", "nope", "--data", data); code == 0 {
		t.Errorf("destroying an unknown app exited 0:\n%s", out)
	}
}

// newHostApp copies hello-node as app name serving host on the shared
// production port, with its own test listener; command, when set,
// replaces the service's command.
func newHostApp(t *testing.T, name, host string, prod int, command string) *hostApp {
	t.Helper()
	a := &hostApp{name: name, host: host, dir: filepath.Join(t.TempDir(), name), test: freePort(t)}
	copyDir(t, "../examples/hello-node", a.dir)
	cfg := readFile(t, filepath.Join(a.dir, "cutover.yaml"))
	for _, r := range [][2]string{
		{"name: hello", "name: " + name},
		{"count: 3", "count: 2"},
		{`production: "127.0.0.1:8080"`, fmt.Sprintf("production: \"127.0.0.1:%d\"\n  hosts: [%s]", prod, host)},
		{`test: "127.0.0.1:8090"`, fmt.Sprintf(`test: "127.0.0.1:%d"`, a.test)},
		{"interval: 5s", "interval: 1s"},
		{"termination_wait: 30s", "termination_wait: 1s\n  progress_deadline: 20s"},
		{"deregistration_delay: 5s", "deregistration_delay: 1s"},
	} {
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	if command != "" {
		cfg = strings.Replace(cfg, "command: [node, app.js]", "command: "+command, 1)
	}
	writeFile(t, filepath.Join(a.dir, "cutover.yaml"), cfg)
	return a
}

// deployHostApp deploys a and checks how the deployment ended ("" for
// any end other than Succeeded).
func deployHostApp(t *testing.T, data string, a *hostApp, want string, args ...string) {
	t.Helper()
	out, code := run(t, append([]string{"deploy", a.dir, "--data", data}, args...)...)
	switch {
	case want == "Succeeded" && code != 0, want != "" && !strings.Contains(out, want):
		t.Fatalf("deploying %s: exit %d, want %s:\n%s", a.name, code, want, out)
	case want == "" && (code == 0 || strings.Contains(out, "Succeeded")):
		t.Fatalf("deploying %s: exit %d, want it to fail:\n%s", a.name, code, out)
	}
}

func waitHostVersion(t *testing.T, addr, host, version string) {
	t.Helper()
	waitFor(t, host+" to answer with "+version, 60*time.Second, func() bool {
		code, body := getHost(addr, host)
		return code == http.StatusOK && strings.Contains(body, `"version":"`+version+`"`)
	})
}

// getHost sends GET / to addr with the Host header host.
func getHost(addr, host string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Host = host
	resp, err := newClient().Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(body)
}
