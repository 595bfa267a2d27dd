package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEnvSetUnderLoad: `cutover env set` rolls out a new revision whose
// tasks see the values, with no failed request; the values survive a
// following `cutover deploy` of a cutover.yaml without them; a secret
// is in no task log, event, `cutover history --json` output, cutover's
// own output or database file; bad input is refused and changes nothing.
func TestEnvSetUnderLoad(t *testing.T) {
	a := newHelloApp(t, nil)
	p := a.up(t, "1.0.0")
	const secret = "pa55-e2e-5ecret-c0ffee"
	l := startLoad(a.url(), 4)

	out, code := run(t, "env", "set", "hello", "GREETING=hej", "--data", a.data)
	if code != 0 || !strings.Contains(out, "Succeeded") {
		t.Fatalf("cutover env set: exit %d\n%s", code, out)
	}
	a.waitGreeting(t, "hej")
	out, code = run(t, "env", "set", "hello", "--secret", "DB_PASSWORD="+secret, "--data", a.data)
	if code != 0 || !strings.Contains(out, "Succeeded") {
		t.Fatalf("cutover env set --secret: exit %d\n%s", code, out)
	}
	if n := tasksWithEnv(t, "DB_PASSWORD="+secret); n < 3 {
		t.Errorf("%d processes have DB_PASSWORD in their environment; want the 3 tasks", n)
	}
	l.finish(t)

	// cutover.yaml has neither variable: the store's win.
	if out, code := a.deploy(t); code != 0 {
		t.Fatalf("cutover deploy: exit %d\n%s", code, out)
	}
	a.waitGreeting(t, "hej")
	if n := tasksWithEnv(t, "DB_PASSWORD="+secret); n < 3 {
		t.Errorf("after cutover deploy %d processes have the secret; want the 3 tasks", n)
	}

	list, _ := run(t, "env", "list", "hello", "--data", a.data)
	if !strings.Contains(list, "GREETING") || !strings.Contains(list, "hej") || strings.Contains(list, secret) {
		t.Errorf("cutover env list shows the secret, or not GREETING:\n%s", list)
	}
	if revealed, _ := run(t, "env", "list", "hello", "--reveal", "--data", a.data); !strings.Contains(revealed, secret) {
		t.Errorf("cutover env list --reveal (admin socket) lacks the secret:\n%s", revealed)
	}
	a.checkSecretNowhere(t, secret, p)

	history, _ := run(t, "history", "hello", "--json", "--data", a.data)
	for _, bad := range [][]string{
		{"env", "set", "nope", "A=1"},
		{"env", "set", "hello", "OK=1", "1BAD=x"},
		{"env", "set", "hello", "PORT=1"},
		{"env", "set", "hello", "CUTOVER_APP=x"},
		{"env", "set", "hello", "NOEQUALS"},
		{"env", "unset", "hello", "MISSING"},
		{"env", "list", "nope"},
	} {
		out, code := run(t, append(bad, "--data", a.data)...)
		if code == 0 {
			t.Errorf("cutover %s exited 0:\n%s", strings.Join(bad, " "), out)
		}
	}
	if after, _ := run(t, "history", "hello", "--json", "--data", a.data); after != history {
		t.Error("refused env changes changed the deployment history")
	}
	if after, _ := run(t, "env", "list", "hello", "--data", a.data); after != list {
		t.Errorf("refused env changes changed the config vars:\n%s\nwas\n%s", after, list)
	}

	if out, code := run(t, "env", "unset", "hello", "GREETING", "--data", a.data); code != 0 {
		t.Fatalf("cutover env unset: exit %d\n%s", code, out)
	}
	a.waitGreeting(t, "Hello from cutover")

	// A restarted `cutover up` of the unchanged directory deploys nothing:
	// the running revision's config vars are the store's.
	before := a.deploymentCount(t)
	p.cmd.Process.Signal(syscall.SIGTERM) // the tasks keep running
	<-p.done
	a.up(t, "1.0.0")
	if after := a.deploymentCount(t); after != before {
		t.Errorf("a restarted cutover up deployed again (%d deployments, were %d)", after, before)
	}

	// A secret's value from stdin, never on the command line; stored only.
	cmd := exec.Command(cutoverBin, "env", "set", "hello", "--secret", "--no-deploy", "API_KEY", "--data", a.data)
	cmd.Stdin = strings.NewReader("from-stdin-5ecret\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "the next deployment takes them") {
		t.Fatalf("cutover env set --secret API_KEY < value: %v\n%s", err, out)
	}
	revealed, _ := run(t, "env", "list", "hello", "--reveal", "--data", a.data)
	if !regexp.MustCompile(`API_KEY\s+from-stdin-5ecret\s+true`).MatchString(revealed) {
		t.Errorf("cutover env list --reveal after a value from stdin:\n%s", revealed)
	}
	if after := a.deploymentCount(t); after != before {
		t.Errorf("env set --no-deploy deployed (%d deployments, were %d)", after, before)
	}
}

// deploymentCount is how many deployments `cutover history` lists.
func (a *helloApp) deploymentCount(t *testing.T) int {
	t.Helper()
	out, code := run(t, "history", "hello", "-n", "1000", "--json", "--data", a.data)
	var deps []json.RawMessage
	if code != 0 || json.Unmarshal([]byte(out), &deps) != nil {
		t.Fatalf("cutover history: exit %d\n%s", code, out)
	}
	return len(deps)
}

// waitGreeting waits until production greets with message.
func (a *helloApp) waitGreeting(t *testing.T, message string) {
	t.Helper()
	client := newClient()
	waitFor(t, "production to greet with "+message, 30*time.Second, func() bool {
		code, body := get(client, a.url())
		return code == 200 && strings.Contains(body, `"message":"`+message+`"`)
	})
}

// tasksWithEnv counts the processes whose environment holds kv.
func tasksWithEnv(t *testing.T, kv string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(append([]byte{0}, b...), []byte("\x00"+kv+"\x00")) {
			n++
		}
	}
	return n
}

// checkSecretNowhere fails if secret is in the app's task logs, the
// event log (GET /api/v1/events), `cutover history --json`, cutover's
// output, or any file of the data directory but the release files
// (the database, its WAL, logs), read as bytes.
func (a *helloApp) checkSecretNowhere(t *testing.T, secret string, p *process) {
	t.Helper()
	for id := range a.taskIDs(t) {
		if out, _ := run(t, "logs", id, "--data", a.data); strings.Contains(out, secret) {
			t.Errorf("the logs of task %s hold the secret", id)
		}
	}
	if events := a.allEvents(t); strings.Contains(events, secret) || !strings.Contains(events, "DB_PASSWORD") {
		t.Errorf("GET /api/v1/events holds the secret, or does not name DB_PASSWORD (%d bytes)", len(events))
	}
	if out, _ := run(t, "history", "hello", "--json", "--data", a.data); strings.Contains(out, secret) {
		t.Error("cutover history --json holds the secret")
	}
	if strings.Contains(p.output(), secret) {
		t.Error("cutover's own output holds the secret")
	}
	filepath.WalkDir(a.data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSocket != 0 {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", path)
		}
		return nil
	})
}

// allEvents pages through GET /api/v1/events (1000 a page) and returns
// every page's body.
func (a *helloApp) allEvents(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	after := int64(0)
	for {
		body := a.apiGet(t, fmt.Sprintf("/api/v1/events?after=%d", after))
		var page []struct{ ID int64 }
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("events: %v", err)
		}
		if len(page) == 0 {
			return all.String()
		}
		all.WriteString(body)
		after = page[len(page)-1].ID
	}
}

// apiGet GETs path from the API on the data directory's socket (admin).
func (a *helloApp) apiGet(t *testing.T, path string) string {
	t.Helper()
	sock := filepath.Join(a.data, "cutover.sock")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Get("http://cutover" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	return string(b)
}

// TestScaledCountSurvivesDeploy: `cutover scale` is kept by the next
// `cutover deploy` while cutover.yaml's service.count is unchanged; a
// changed service.count wins.
func TestScaledCountSurvivesDeploy(t *testing.T) {
	a := newHelloApp(t, nil) // count: 3
	a.up(t, "1.0.0")
	if out, code := run(t, "scale", "hello", "4", "--data", a.data); code != 0 {
		t.Fatalf("cutover scale: exit %d\n%s", code, out)
	}
	a.waitTasks(t, "4")
	if out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0"); code != 0 {
		t.Fatalf("cutover deploy: exit %d\n%s", code, out)
	}
	a.waitVersion(t, "2.0.0", 10*time.Second)
	a.waitTasks(t, "4")

	yaml := filepath.Join(a.dir, "cutover.yaml")
	writeFile(t, yaml, strings.Replace(readFile(t, yaml), "count: 3", "count: 2", 1))
	if out, code := a.deploy(t, "--env", "APP_VERSION=3.0.0"); code != 0 {
		t.Fatalf("cutover deploy: exit %d\n%s", code, out)
	}
	a.waitTasks(t, "2")
}
