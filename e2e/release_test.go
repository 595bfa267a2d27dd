package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// releaseReceiver counts the calls a release command makes to it, with
// the version the command saw.
type releaseReceiver struct {
	mu       sync.Mutex
	versions []string
	url      string
}

func newReleaseReceiver(t *testing.T) *releaseReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	r := &releaseReceiver{url: "http://" + ln.Addr().String() + "/"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.versions = append(r.versions, req.URL.Query().Get("v"))
		r.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *releaseReceiver) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.versions...)
}

// setRelease makes the app's release command script, a node -e program.
func (a *helloApp) setRelease(t *testing.T, script string) {
	t.Helper()
	path := filepath.Join(a.dir, "cutover.yaml")
	cfg := regexp.MustCompile(`(?m)^  release: .*\n`).ReplaceAllString(readFile(t, path), "")
	script, _ = strings.CutSuffix(script, "\n")
	quoted, _ := json.Marshal(script)
	writeFile(t, path, strings.Replace(cfg, "deploy:\n", "deploy:\n  release: [node, -e, "+string(quoted)+"]\n", 1))
}

// TestReleaseCommand: the release command runs once per deployment with
// the new revision's environment, before any traffic moves; when it
// fails, the deployment fails under load with no failed request, the old
// version still serving, and its output is in `cutover history` and the
// deployment's Release step.
func TestReleaseCommand(t *testing.T) {
	rcv := newReleaseReceiver(t)
	a := newHelloApp(t, nil)
	a.setRelease(t, `fetch("`+rcv.url+`?v=" + (process.env.APP_VERSION || "1.0.0")).then(() => console.log("released", process.env.NODE_ENV))`)
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 4)

	out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0")
	if code != 0 || !strings.Contains(out, "Release") {
		t.Fatalf("cutover deploy: exit %d\n%s", code, out)
	}
	if got := rcv.calls(); strings.Join(got, " ") != "1.0.0 2.0.0" {
		t.Errorf("the release command ran for %q; want once per deployment: 1.0.0, then 2.0.0", got)
	}
	if !strings.Contains(out, "released production") {
		t.Errorf("the deploy output lacks the release command's output:\n%s", out)
	}

	// The pause orders the two lines: a task's stdout and stderr are read
	// concurrently, so lines written to both within microseconds may swap
	// (docs/logs.md).
	a.setRelease(t, `console.log("migrating to", process.env.APP_VERSION); setTimeout(() => { console.error("migration 7 failed"); process.exit(3) }, 300)`)
	out, code = a.deploy(t, "--env", "APP_VERSION=3.0.0")
	l.finish(t)
	if code == 0 || !strings.Contains(out, "Failed") {
		t.Fatalf("a deployment whose release command fails: exit %d\n%s", code, out)
	}
	if n := l.count(`{"message":"Hello from cutover","version":"3.0.0"}` + "\n"); n != 0 {
		t.Errorf("%d requests reached the version whose release command failed", n)
	}
	a.waitVersion(t, "2.0.0", time.Second)

	history, _ := run(t, "history", "hello", "--data", a.data)
	if !strings.Contains(history, "Release failed: release command exited with code 3") || !strings.Contains(history, "last output: migration 7 failed") {
		t.Errorf("cutover history lacks the release failure:\n%s", history)
	}
	d := a.newestDeployment(t)
	var release struct{ Status, Message string }
	for _, ev := range d.Lifecycle {
		if ev.Name == "Release" {
			release.Status, release.Message = ev.Status, ev.Message
		}
		if ev.Name == "AllowTestTraffic" && ev.Status != "Skipped" {
			t.Errorf("AllowTestTraffic %s after the release command failed", ev.Status)
		}
	}
	if release.Status != "Failed" || !strings.Contains(release.Message, "migrating to 3.0.0\nmigration 7 failed") {
		t.Errorf("the deployment's Release step: %+v", release)
	}
	for _, w := range d.Traffic {
		if w.Weights[d.Green] > 0 && d.Green != d.Blue {
			t.Errorf("the %s listener gave the new revision %d%%", w.Listener, w.Weights[d.Green])
		}
	}
	if tasks, _ := run(t, "tasks", "hello", "--data", a.data); strings.Contains(tasks, d.ToRevision) {
		t.Errorf("tasks of the failed revision %s still run:\n%s", d.ToRevision, tasks)
	}
}

type deploymentDetail struct {
	ToRevision string `json:"to_revision"`
	Config     struct {
		Blue  string `json:"blue"`
		Green string `json:"green"`
	} `json:"config"`
	Blue, Green string
	Lifecycle   []struct {
		Name, Status, Message string
	} `json:"lifecycle"`
	Traffic []struct {
		Listener string
		Weights  map[string]int
	} `json:"traffic"`
}

// newestDeployment reads the app's newest deployment from the API.
func (a *helloApp) newestDeployment(t *testing.T) deploymentDetail {
	t.Helper()
	out, code := run(t, "history", "hello", "--data", a.data, "--json", "-n", "1")
	var deps []struct{ ID string }
	if code != 0 || json.Unmarshal([]byte(out), &deps) != nil || len(deps) != 1 {
		t.Fatalf("cutover history --json: exit %d\n%s", code, out)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(a.data, "cutover.sock"))
	}}}
	resp, err := client.Get("http://cutover/api/v1/deployments/" + deps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d deploymentDetail
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	d.Blue, d.Green = d.Config.Blue, d.Config.Green
	return d
}

// TestRunOneOffTasks: `cutover run` runs a command with the app's
// current revision and environment, streams its output, sends it piped
// input and exits with its exit code; --detach runs it in the
// background, listed by `cutover tasks`, its output in `cutover logs`.
func TestRunOneOffTasks(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	data := []string{"--data", a.data}

	if out, code := run(t, append(runArgs(data, "hello"), "node", "-e", "process.exit(3)")...); code != 3 {
		t.Errorf("cutover run hello -- node -e 'process.exit(3)': exit %d, want 3\n%s", code, out)
	}
	out, code := run(t, append(runArgs(data, "hello"), "node", "-e", `console.log(process.env.NODE_ENV, require("./package.json").name)`)...)
	if code != 0 || out != "production hello-node\n" {
		t.Errorf("the command's environment and directory: exit %d, output %q; want production hello-node", code, out)
	}

	// Streamed: the first line arrives while the command still runs.
	cmd := exec.Command(cutoverBin, append(runArgs(data, "hello"), "node", "-e", `console.log("first"); setTimeout(() => console.log("second"), 2000)`)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	var at []time.Time
	for lines.Scan() {
		at = append(at, time.Now())
	}
	cmd.Wait()
	if len(at) != 2 || at[1].Sub(at[0]) < time.Second {
		t.Errorf("output lines came at %v; want 2, the second about 2s after the first", at)
	}

	// Piped input reaches the command.
	piped := exec.Command(cutoverBin, append(runArgs(data, "hello"), "node", "-e", `process.stdin.on("data", d => process.stdout.write(d.toString().toUpperCase()))`)...)
	piped.Stdin = strings.NewReader("hello from stdin\n")
	if out, err := piped.CombinedOutput(); err != nil || string(out) != "HELLO FROM STDIN\n" {
		t.Errorf("piped stdin: %v, output %q", err, out)
	}

	out, code = run(t, append(runArgs(data, "hello", "--detach", "--json"), "node", "-e", `console.log("in the background"); setTimeout(() => {}, 3000)`)...)
	var task struct {
		ID      string `json:"id"`
		TaskSet string `json:"task_set"`
	}
	if err := json.Unmarshal([]byte(out), &task); code != 0 || err != nil || task.TaskSet != "one-off" {
		t.Fatalf("cutover run --detach: exit %d, %v\n%s", code, err, out)
	}
	if tasks, _ := run(t, append([]string{"tasks", "hello"}, data...)...); !regexp.MustCompile(task.ID + `\s+hello\s+hello-r1\s+one-off\s+running`).MatchString(tasks) {
		t.Errorf("cutover tasks does not list the detached task %s as one-off and running:\n%s", task.ID, tasks)
	}
	waitFor(t, "the detached task's output", 20*time.Second, func() bool {
		logs, _ := run(t, append([]string{"logs", task.ID}, data...)...)
		return strings.Contains(logs, "in the background")
	})
	waitFor(t, "the detached task to end", 20*time.Second, func() bool {
		tasks, _ := run(t, append([]string{"tasks", "hello"}, data...)...)
		return !strings.Contains(tasks, task.ID)
	})
	if logs, _ := run(t, append([]string{"logs", task.ID}, data...)...); !strings.Contains(logs, "in the background") {
		t.Errorf("cutover logs of the ended detached task: %q", logs)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "hello"}, "no command to run"},
		{[]string{"run", "hello", "--"}, "no command to run"},
		{[]string{"run", "nope", "--", "ls"}, "no such app"},
		{[]string{"run", "hello", "ls"}, "give the command after --"},
	} {
		args := append(append([]string{bad.args[0], bad.args[1]}, data...), bad.args[2:]...)
		out, code := run(t, args...)
		if code == 0 || !strings.Contains(out, bad.want) {
			t.Errorf("cutover %s: exit %d\n%s\nwant an error saying %q", strings.Join(bad.args, " "), code, out, bad.want)
		}
	}
	if status, _ := run(t, append([]string{"status"}, data...)...); !regexp.MustCompile(`hello\s+hello-r1\s+3/3`).MatchString(status) {
		t.Errorf("the one-off tasks changed the service:\n%s", status)
	}
}

// runArgs are the arguments of `cutover run app flags... --` with the
// data directory; the command follows.
func runArgs(data []string, app string, flags ...string) []string {
	args := append([]string{"run", app}, data...)
	return append(append(args, flags...), "--")
}
