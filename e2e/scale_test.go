package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScaleUnderLoad scales hello-node 3 → 6 → 2 with `cutover scale`
// under constant load: new tasks join once healthy, removed ones drain
// first, and no request fails. Bad counts and unknown apps are refused
// and change nothing.
func TestScaleUnderLoad(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	l := startLoad(a.url(), 4)

	for _, n := range []string{"6", "2"} {
		out, code := run(t, "scale", "hello", n, "--data", a.data)
		if code != 0 || !strings.Contains(out, "desired count "+n) {
			t.Fatalf("cutover scale hello %s: exit %d\n%s", n, code, out)
		}
		a.waitTasks(t, n)
	}
	l.finish(t)

	for _, bad := range []struct{ args []string }{
		{[]string{"scale", "hello", "0"}},
		{[]string{"scale", "hello", "1001"}},
		{[]string{"scale", "hello", "two"}},
		{[]string{"scale", "nope", "2"}},
	} {
		out, code := run(t, append(bad.args, "--data", a.data)...)
		if code == 0 {
			t.Errorf("cutover %s exited 0:\n%s", strings.Join(bad.args, " "), out)
		}
	}
	a.waitTasks(t, "2")
}

// waitTasks waits until `cutover status` shows n of n tasks healthy and
// `cutover tasks` lists n running.
func (a *helloApp) waitTasks(t *testing.T, n string) {
	t.Helper()
	healthy := regexp.MustCompile(`hello\s+hello-r\d+\s+` + n + `/` + n + `\b`)
	waitFor(t, n+" healthy tasks", 60*time.Second, func() bool {
		status, code := run(t, "status", "--data", a.data)
		if code != 0 || !healthy.MatchString(status) {
			return false
		}
		tasks, _ := run(t, "tasks", "hello", "--data", a.data)
		want, _ := strconv.Atoi(n)
		return strings.Count(tasks, " healthy ") == want && !strings.Contains(tasks, "draining")
	})
}

// TestRestartUnderLoad: `cutover restart` replaces every task, new ones
// healthy before the old ones drain, with no failed request.
func TestRestartUnderLoad(t *testing.T) {
	a := newHelloApp(t, nil)
	a.up(t, "1.0.0")
	before := a.taskIDs(t)
	l := startLoad(a.url(), 4)
	out, code := run(t, "restart", "hello", "--data", a.data)
	if code != 0 || !strings.Contains(out, "new tasks healthy") {
		t.Fatalf("cutover restart hello: exit %d\n%s", code, out)
	}
	a.waitTasks(t, "3")
	l.finish(t)
	after := a.taskIDs(t)
	for id := range before {
		if after[id] {
			t.Errorf("task %s still runs after the restart (before %v, after %v)", id, before, after)
		}
	}
	if len(after) != 3 {
		t.Errorf("%d tasks after the restart, want 3: %v", len(after), after)
	}
	if _, code := run(t, "restart", "nope", "--data", a.data); code == 0 {
		t.Error("restarting an unknown app exited 0")
	}
}

// taskIDs are the ids of the app's live tasks, from `cutover tasks`.
func (a *helloApp) taskIDs(t *testing.T) map[string]bool {
	t.Helper()
	out, code := run(t, "tasks", "hello", "--data", a.data)
	if code != 0 {
		t.Fatalf("cutover tasks: exit %d\n%s", code, out)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			ids[f[0]] = true
		}
	}
	return ids
}
