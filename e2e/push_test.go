package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pushedApp is an app of e2e/testdata in a git repository of its own.
// `cutover up` runs its working copy first and registers it; later
// commits reach cutover by `git push` to the built-in git remote, and the
// pipeline builds them with their buildspec in the sandbox and deploys
// them on the process runtime.
type pushedApp struct {
	name, repo, data string
	prod, test, api  int
	token            string   // a deploy token, for the API
	cutover          *process // cutover up, once started
}

// newPushedApp copies e2e/testdata/<src> into a git repository, with
// the app's name and the listeners of its cutover.yaml (8080, 8090)
// replaced, and commits it.
func newPushedApp(t *testing.T, name, src string) *pushedApp {
	t.Helper()
	a := &pushedApp{name: name, repo: filepath.Join(t.TempDir(), name), data: filepath.Join(t.TempDir(), "data"),
		prod: freePort(t), test: freePort(t), api: freePort(t)}
	copyDir(t, filepath.Join("testdata", src), a.repo)
	a.edit(t, "cutover.yaml", func(cfg string) string {
		cfg = regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(cfg, "name: "+name)
		cfg = strings.Replace(cfg, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", a.prod), 1)
		return strings.Replace(cfg, "127.0.0.1:8090", fmt.Sprintf("127.0.0.1:%d", a.test), 1)
	})
	a.git(t, "init", "-q", "-b", "main")
	a.git(t, "add", "-A")
	a.git(t, "commit", "-q", "-m", "version 1")
	// Registered first, so it runs after cutover has been stopped.
	t.Cleanup(func() {
		checkNoTasksLeft(t, a.data)
		if t.Failed() && a.cutover != nil {
			t.Logf("cutover up output:\n%s", a.cutover.output())
		}
	})
	return a
}

func (a *pushedApp) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", a.prod) }

// up starts `cutover up` on the working copy, waits until production
// answers body and the deployment has succeeded, and makes a deploy
// token.
func (a *pushedApp) up(t *testing.T, body string) {
	t.Helper()
	if status := a.start(t); status != "Succeeded" {
		t.Fatalf("the first deployment ended %s", status)
	}
	a.waitBody(t, body, 10*time.Second)
}

// start starts `cutover up` on the working copy, makes a deploy token,
// and returns how the first deployment ended.
func (a *pushedApp) start(t *testing.T) string {
	t.Helper()
	a.cutover = start(t, "up", a.repo, "--data", a.data, "--api-addr", fmt.Sprintf("127.0.0.1:%d", a.api))
	var status string
	waitFor(t, "the first deployment to end", 60*time.Second, func() bool {
		status = a.deployment(t, a.name+"-d1")
		return status != "" && status != "Created" && status != "InProgress"
	})
	out, code := run(t, "token", "create", "--role", "deploy", "--json", "--data", a.data)
	var tk struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tk); code != 0 || err != nil || tk.Token == "" {
		t.Fatalf("token create: exit %d, %v\n%s", code, err, out)
	}
	a.token = tk.Token
	return status
}

// waitBody waits until production answers 200 with body.
func (a *pushedApp) waitBody(t *testing.T, body string, timeout time.Duration) {
	t.Helper()
	client := newClient()
	waitFor(t, fmt.Sprintf("production to answer %q", body), timeout, func() bool {
		code, got := get(client, a.url())
		return code == 200 && got == body
	})
}

// checkServes fails the test unless production answers body n times.
func (a *pushedApp) checkServes(t *testing.T, body string, n int) {
	t.Helper()
	client := newClient()
	for range n {
		if code, got := get(client, a.url()); code != 200 || got != body {
			t.Fatalf("production answers %d %q, want %q", code, got, body)
		}
	}
}

// edit rewrites a file of the working copy with change.
func (a *pushedApp) edit(t *testing.T, name string, change func(string) string) {
	t.Helper()
	path := filepath.Join(a.repo, name)
	old := readFile(t, path)
	if err := os.WriteFile(path, []byte(change(old)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace is edit with one replacement that must apply.
func (a *pushedApp) replace(t *testing.T, name, old, new string) {
	t.Helper()
	a.edit(t, name, func(s string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%s has no %q", name, old)
		}
		return strings.Replace(s, old, new, 1)
	})
}

// commit commits the working copy's changes to tracked files.
func (a *pushedApp) commit(t *testing.T, message string) {
	t.Helper()
	a.git(t, "commit", "-q", "-am", message)
}

// pushTimeout bounds a pushed execution. A first build of the Go service
// compiles the standard library into an empty build cache, which takes
// minutes on two busy cores.
const pushTimeout = 6 * time.Minute

// push pushes main to cutover's git remote with password, then waits for
// the execution it started to end.
func (a *pushedApp) push(t *testing.T, password string) execution {
	t.Helper()
	commit := a.git(t, "rev-parse", "HEAD")
	message := a.git(t, "log", "-1", "--format=%s")
	remote := fmt.Sprintf("http://push:%s@127.0.0.1:%d/git/%s.git", url.PathEscape(password), a.api, a.name)
	started := time.Now()
	a.git(t, "push", "-q", remote, "main")
	e := a.waitExecution(t, commit)
	t.Logf("%s: %s %s in %s, deployment %s", message, e.ID, e.Status, time.Since(started).Round(100*time.Millisecond), e.DeploymentID)
	return e
}

// pushUnhealthy commits a version whose health check fails and pushes
// it: its execution must fail and its deployment be rolled back.
func (a *pushedApp) pushUnhealthy(t *testing.T, password string) {
	t.Helper()
	a.commit(t, "unhealthy version")
	e := a.push(t, password)
	if e.Status != "Failed" || e.DeploymentID == "" {
		t.Fatalf("the unhealthy version's execution %s ended %s (deployment %q): %s", e.ID, e.Status, e.DeploymentID, e.Error)
	}
	if st := a.deployment(t, e.DeploymentID); st != "RolledBack" {
		t.Errorf("the unhealthy version's deployment %s is %s, want RolledBack", e.DeploymentID, st)
	}
}

// execution is what the tests read of a pipeline execution.
type execution struct {
	ID           string `json:"id"`
	Commit       string `json:"commit"`
	Status       string `json:"status"`
	Error        string `json:"error"`
	Artifact     string `json:"artifact"` // the release directory
	DeploymentID string `json:"deployment_id"`
}

// execution returns the newest execution of commit, if any, from the API.
func (a *pushedApp) execution(t *testing.T, commit string) execution {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v1/executions?app=%s", a.api, a.name), nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := newClient().Do(req)
	if err != nil {
		return execution{}
	}
	defer resp.Body.Close()
	var list []execution
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return execution{}
	}
	for _, e := range list {
		if e.Commit == commit {
			return e
		}
	}
	return execution{}
}

// log returns an execution's log.
func (a *pushedApp) log(t *testing.T, id string) string {
	t.Helper()
	out, _ := run(t, "pipeline", "logs", id, "--data", a.data)
	return out
}

// deployment returns the status of a deployment, "" while there is none.
func (a *pushedApp) deployment(t *testing.T, id string) string {
	t.Helper()
	out, _ := run(t, "history", a.name, "--data", a.data, "--json")
	var deps []struct{ ID, Status string }
	json.Unmarshal([]byte(out), &deps)
	for _, d := range deps {
		if d.ID == id {
			return d.Status
		}
	}
	return ""
}

// mustSucceed fails the test, with the execution's log, unless e
// succeeded.
func (a *pushedApp) mustSucceed(t *testing.T, e execution) {
	t.Helper()
	if e.Status != "Succeeded" {
		t.Fatalf("execution %s %s: %s\n%s", e.ID, e.Status, e.Error, a.log(t, e.ID))
	}
}

// secret returns the app's pipeline secret.
func (a *pushedApp) secret(t *testing.T) string {
	t.Helper()
	out, code := run(t, "pipeline", "remote", a.name, "--show-secret", "--json", "--data", a.data)
	var r struct{ Secret string }
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Secret == "" {
		t.Fatalf("pipeline remote --show-secret: exit %d, %v\n%s", code, err, out)
	}
	return r.Secret
}

// git runs git in the repository and returns its trimmed output.
func (a *pushedApp) git(t *testing.T, args ...string) string {
	t.Helper()
	return gitIn(t, a.repo, args...)
}

// gitIn runs git in dir and returns its trimmed output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// inRepo runs a command in the repository's working copy, as the
// developer would before `cutover up`.
func (a *pushedApp) inRepo(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = a.repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// addr is the production listener's address, for the strict load.
func (a *pushedApp) addr() string { return fmt.Sprintf("127.0.0.1:%d", a.prod) }
