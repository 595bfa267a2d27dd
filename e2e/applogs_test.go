package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// teller is an app whose tasks print what they are asked to: GET
// /say?line=X prints X on stdout (on stderr with &stream=err) before it
// answers, so a test that asks the tasks in turn knows the order of
// their lines.
const tellerJS = `
const http = require('http');
const id = process.env.CUTOVER_TASK_ID;
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://localhost');
  if (u.pathname === '/say') {
    const line = u.searchParams.get('line');
    if (u.searchParams.get('stream') === 'err') console.error(line); else console.log(line);
  }
  res.end('ok\n');
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready ' + id + ' ' + (process.env.VERSION || '')));
`

type tellerApp struct {
	dir, data  string
	prod, test int
}

func newTellerApp(t *testing.T) *tellerApp {
	t.Helper()
	a := &tellerApp{dir: filepath.Join(t.TempDir(), "teller"), data: filepath.Join(t.TempDir(), "data"), prod: freePort(t), test: freePort(t)}
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(a.dir, "app.js"), tellerJS)
	writeFile(t, filepath.Join(a.dir, "cutover.yaml"), fmt.Sprintf(`name: teller
service:
  command: [node, app.js]
  port: 3000
  count: 3
  stop_timeout: 5s
health: {path: /, interval: 500ms, timeout: 400ms, healthy_threshold: 2, unhealthy_threshold: 2}
listeners: {production: "127.0.0.1:%d", test: "127.0.0.1:%d"}
deploy:
  traffic: {type: all_at_once}
  termination_wait: 1s
  deregistration_delay: 1s
`, a.prod, a.test))
	t.Cleanup(func() { checkNoTasksLeft(t, a.data) })
	return a
}

// tasks returns the ids and addresses of the app's healthy tasks.
func (a *tellerApp) tasks(t *testing.T) (ids, addrs []string) {
	return healthyTasks(t, a.data, "teller")
}

// healthyTasks returns the ids and addresses of app's healthy tasks.
func healthyTasks(t *testing.T, data, app string) (ids, addrs []string) {
	t.Helper()
	out, code := run(t, "tasks", app, "--data", data)
	if code != 0 {
		return nil, nil // not up yet
	}
	row := regexp.MustCompile(`(?m)^(` + regexp.QuoteMeta(app) + `-\S+)\s.*\shealthy\s+(127\.0\.0\.1:\d+)$`)
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		ids, addrs = append(ids, m[1]), append(addrs, m[2])
	}
	return ids, addrs
}

// say makes the task at addr print line.
func say(t *testing.T, addr, line, stream string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/say?line=" + url.QueryEscape(line) + "&stream=" + stream)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestAppLogs: `cutover logs APP` merges the output of the app's three
// tasks in the order it was written, each line after its task and
// stream; -f shows new lines as they come, and a deployment's new tasks
// while it follows; --since and --revision select; an unknown name is
// a clear error.
func TestAppLogs(t *testing.T) {
	a := newTellerApp(t)
	start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	var ids, addrs []string
	waitFor(t, "3 healthy tasks", 60*time.Second, func() bool {
		ids, addrs = a.tasks(t)
		return len(ids) == 3
	})

	// Nine lines, the tasks in turn, every third one on stderr.
	var want []string
	for k := range 9 {
		i, stream, tag := k%3, "out", "out"
		if k%3 == 2 {
			stream, tag = "err", "err"
		}
		line := fmt.Sprintf("line %d", k)
		say(t, addrs[i], line, stream)
		want = append(want, ids[i]+" "+tag+" | "+line)
		time.Sleep(100 * time.Millisecond) // far more than stamping takes
	}
	out, code := run(t, "logs", "teller", "--data", a.data)
	if code != 0 {
		t.Fatalf("cutover logs teller: exit %d\n%s", code, out)
	}
	t.Logf("cutover logs teller:\n%s", out)
	if got := linesMatching(out, "| line "); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cutover logs teller:\n%s\nwant, in this order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, id := range ids {
		if !strings.Contains(out, id+" out | ready "+id) {
			t.Errorf("cutover logs teller does not show %s's first line:\n%s", id, out)
		}
	}
	out, _ = run(t, "logs", "teller", "--tail", "2", "-t", "--data", a.data)
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ` + regexp.QuoteMeta(want[7]) + `\n\d{4}-\d\d-\d\dT[0-9:.]+Z ` + regexp.QuoteMeta(want[8]) + `\n$`)
	if !stamped.MatchString(out) {
		t.Errorf("cutover logs teller --tail 2 -t:\n%s\nwant the last two lines with their times", out)
	}

	// --since: only what was written since.
	time.Sleep(4 * time.Second)
	say(t, addrs[1], "late line", "out")
	out, _ = run(t, "logs", "teller", "--since", "3s", "--data", a.data)
	if strings.TrimSpace(out) != ids[1]+" out | late line" {
		t.Errorf("cutover logs teller --since 3s:\n%s\nwant only the late line", out)
	}

	// -f: new lines as they come, and the new tasks of a deployment.
	follow := start(t, "logs", "teller", "-f", "--tail", "1", "--data", a.data)
	waitFor(t, "the last line of the past", 10*time.Second, func() bool {
		return follow.output() == ids[1]+" out | late line\n"
	})
	say(t, addrs[0], "followed line", "out")
	waitFor(t, "the followed line", 10*time.Second, func() bool {
		return strings.Contains(follow.output(), ids[0]+" out | followed line")
	})
	out, code = run(t, "deploy", a.dir, "-e", "VERSION=2", "--data", a.data)
	if code != 0 {
		t.Fatalf("cutover deploy: exit %d\n%s", code, out)
	}
	newTask := regexp.MustCompile(`(?m)^(teller-r2-\S+) out \| ready teller-r2-\S+ 2$`)
	waitFor(t, "the new tasks' first lines in the followed logs", 30*time.Second, func() bool {
		return len(newTask.FindAllString(follow.output(), -1)) == 3
	})

	// --revision: the old tasks (stopped now) or the new ones.
	out, _ = run(t, "logs", "teller", "--revision", "r1", "--data", a.data)
	if got := linesMatching(out, "| line "); strings.Join(got, "\n") != strings.Join(want, "\n") || strings.Contains(out, "teller-r2-") {
		t.Errorf("cutover logs teller --revision r1:\n%s\nwant the first revision's lines only", out)
	}
	out, _ = run(t, "logs", "teller", "--revision", "2", "--data", a.data)
	if strings.Contains(out, "teller-r1-") || len(newTask.FindAllString(out, -1)) != 3 {
		t.Errorf("cutover logs teller --revision 2:\n%s\nwant the new tasks' lines only", out)
	}

	// One task's logs as before: its output, without prefixes.
	out, code = run(t, "logs", ids[2], "--data", a.data)
	if code != 0 || !strings.Contains(out, "\nline 2\n") || strings.Contains(out, " | ") {
		t.Errorf("cutover logs %s: exit %d\n%s", ids[2], code, out)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "nope"}, "no app or task is called nope"},
		{[]string{"logs", "teller", "--revision", "r7"}, "no revision teller-r7"},
		{[]string{"logs", "teller", "--since", "yesterday"}, `since "yesterday"`},
		{[]string{"logs", "teller", "--since", "-5m"}, "positive duration"},
	} {
		out, code := run(t, append(bad.args, "--data", a.data)...)
		if code == 0 || !strings.Contains(out, bad.want) {
			t.Errorf("cutover %s: exit %d\n%s\nwant an error saying %q", strings.Join(bad.args, " "), code, out, bad.want)
		}
	}
}

// linesMatching returns the lines of out that contain s.
func linesMatching(out, s string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		if strings.Contains(l, s) {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	return lines
}

// TestAppLogsDocker: with the docker runtime, `cutover logs APP` merges
// the containers' output by the Engine's timestamps, with their streams.
func TestAppLogsDocker(t *testing.T) {
	image := dockerImage(t)
	prod, test := freePort(t), freePort(t)
	dir, data := t.TempDir(), t.TempDir()
	app := fmt.Sprintf("logs-%08x", rand.Uint32()) // its containers are this test's alone
	writeFile(t, filepath.Join(dir, "cutover.yaml"), fmt.Sprintf(`name: %s
service:
  runtime: docker
  image: %s
  port: 8080
  count: 2
  stop_timeout: 5s
health: {path: /status, interval: 1s, timeout: 500ms, healthy_threshold: 2}
listeners: {production: "127.0.0.1:%d", test: "127.0.0.1:%d"}
`, app, image, prod, test))
	start(t, "up", dir, "--data", data, "--api-addr", "")
	t.Cleanup(func() { removeContainers(app) })
	var ids, addrs []string
	waitFor(t, "2 healthy containers", 90*time.Second, func() bool {
		ids, addrs = healthyTasks(t, data, app)
		return len(ids) == 2
	})
	var want []string
	for k := range 6 {
		i, stream, tag := k%2, "out", "out"
		if k%3 == 2 {
			stream, tag = "err", "err"
		}
		line := fmt.Sprintf("line %d", k)
		say(t, addrs[i], line, stream)
		want = append(want, ids[i]+" "+tag+" | "+line)
		time.Sleep(100 * time.Millisecond) // far more than stamping takes
	}
	var out string
	waitFor(t, "the six lines in cutover logs", 10*time.Second, func() bool {
		out, _ = run(t, "logs", app, "--data", data)
		return len(linesMatching(out, "| line ")) == 6
	})
	if got := linesMatching(out, "| line "); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cutover logs %s:\n%s\nwant, in this order:\n%s", app, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
