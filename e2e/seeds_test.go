package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seed is one of the seed documents' apps (e2e/testdata/seedNNN) in a git
// repository of its own, run by `cutover up` on the docker runtime and
// then deployed by git pushes through its own buildspec, unchanged, in a
// privileged build that pushes its image to cutover's registry.
type seed struct {
	name, repo, data string
	prod, api        int
	token            string // a deploy token
}

// newSeed copies e2e/testdata/<src> into a git repository, with the
// listeners of its cutover.yaml (8080, 8090) moved to free ports and
// REGISTRY/ in it replaced by cutover's registry.
func newSeed(t *testing.T, name, src string) *seed {
	t.Helper()
	needDocker(t)
	s := &seed{name: name, repo: filepath.Join(t.TempDir(), name), data: filepath.Join(t.TempDir(), "data"),
		prod: freePort(t), api: freePort(t)}
	copyDir(t, filepath.Join("testdata", src), s.repo)
	cfg := readFile(t, filepath.Join(s.repo, "cutover.yaml"))
	cfg = strings.Replace(cfg, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", s.prod), 1)
	cfg = strings.Replace(cfg, "127.0.0.1:8090", fmt.Sprintf("127.0.0.1:%d", freePort(t)), 1)
	cfg = strings.Replace(cfg, "REGISTRY/", fmt.Sprintf("127.0.0.1:%d/", s.api), 1)
	writeFile(t, filepath.Join(s.repo, "cutover.yaml"), cfg)
	s.git(t, "init", "-q", "-b", "main")
	s.git(t, "add", "-A")
	s.git(t, "commit", "-q", "-m", "version 1")
	t.Cleanup(func() { s.removeDockerLeftovers(t) })
	return s
}

// needDocker skips the test without a Docker Engine, or fails it when
// CUTOVER_REQUIRE_DOCKER=1.
func needDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CUTOVER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine answers: %v", err)
		}
		t.Skip("no Docker Engine answers; scripts/test.sh starts one")
	}
}

// nodeBaseImage makes the image tag from this machine's Node.js with
// scripts/node-image.sh, as docs/coming-from-aws.md tells an offline user
// to, unless the Engine has it. It is left in the Engine: it is a base
// image, and other tests may be using it.
func nodeBaseImage(t *testing.T, tag string) {
	t.Helper()
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return
	}
	if out, err := exec.Command("bash", "../scripts/node-image.sh", tag).CombinedOutput(); err != nil {
		t.Fatalf("scripts/node-image.sh %s: %v\n%s", tag, err, out)
	}
}

// up starts cutover with the built-in registry on its API listener and
// registers the app. No image exists before the first build, so that
// first deployment fails, and cutover keeps serving.
func (s *seed) up(t *testing.T) {
	t.Helper()
	start(t, "up", s.repo, "--data", s.data, "--api-addr", fmt.Sprintf("127.0.0.1:%d", s.api))
	waitFor(t, "the first deployment to end", 60*time.Second, func() bool {
		out, _ := run(t, "history", s.name, "--data", s.data, "--json")
		return strings.Contains(out, `"status": "Failed"`) || strings.Contains(out, `"status": "RolledBack"`)
	})
	out, code := run(t, "token", "create", "--role", "deploy", "--json", "--data", s.data)
	var tk struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tk); code != 0 || err != nil || tk.Token == "" {
		t.Fatalf("token create: exit %d, %v\n%s", code, err, out)
	}
	s.token = tk.Token
	if out, code := run(t, "pipeline", "settings", s.name, "--privileged", "--data", s.data); code != 0 {
		t.Fatalf("pipeline settings --privileged: exit %d\n%s", code, out)
	}
}

// seedExecution is what the tests read of a pipeline execution.
type seedExecution struct {
	ID, Commit, Status, Error string
	DeploymentID              string `json:"deployment_id"`
}

// push pushes main to the built-in git remote with the deploy token and
// waits for the execution it started to end, which must succeed.
func (s *seed) push(t *testing.T) seedExecution {
	t.Helper()
	commit := s.git(t, "rev-parse", "HEAD")
	s.git(t, "push", "-q", fmt.Sprintf("http://push:%s@127.0.0.1:%d/git/%s.git", s.token, s.api, s.name), "main")
	var e seedExecution
	waitFor(t, "the execution of "+commit[:7]+" to end", 4*time.Minute, func() bool {
		out, _ := run(t, "pipeline", "list", s.name, "--json", "--data", s.data)
		var list []seedExecution
		json.Unmarshal([]byte(out), &list)
		for _, x := range list {
			if x.Commit == commit {
				e = x
			}
		}
		return e.Status != "" && e.Status != "InProgress" && e.Status != "Stopping"
	})
	if e.Status != "Succeeded" {
		log, _ := run(t, "pipeline", "logs", e.ID, "--data", s.data)
		t.Fatalf("execution %s %s: %s\n%s", e.ID, e.Status, e.Error, log)
	}
	return e
}

// tags lists the tags of the app's repository in cutover's registry.
func (s *seed) tags(t *testing.T) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v2/%s/tags/list", s.api, s.name), nil)
	req.SetBasicAuth("e2e", s.token)
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatalf("listing the registry's tags: %v", err)
	}
	defer resp.Body.Close()
	var list struct{ Tags []string }
	json.NewDecoder(resp.Body).Decode(&list)
	return list.Tags
}

func (s *seed) git(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = s.repo
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// removeDockerLeftovers removes the app's containers (tasks outlive
// cutover by design) and the images its builds made.
func (s *seed) removeDockerLeftovers(t *testing.T) {
	removeContainers(s.name)
	for _, ref := range []string{fmt.Sprintf("127.0.0.1:%d/%s", s.api, s.name), s.name} {
		out, _ := exec.Command("docker", "images", "-q", "--filter", "reference="+ref).Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rmi", "-f", id).Run()
		}
	}
}

// TestSeed000Pipeline runs seed 000 (CodePipeline + CodeBuild + ECS with
// an Express app) with its buildspec verbatim: npm ci, `$(aws ecr
// get-login ...)`, npm test, docker build/tag/push to $REPOSITORY_URI,
// and imagedefinitions.json naming the container expresso-staging, which
// the Deploy stage reads to deploy the image as a rolling update. The
// second push shifts traffic under load without a failed request.
func TestSeed000Pipeline(t *testing.T) {
	s := newSeed(t, "expresso", "seed000")
	nodeBaseImage(t, "node:20")
	s.up(t)

	e := s.push(t)
	log, _ := run(t, "pipeline", "logs", e.ID, "--data", s.data)
	for _, want := range []string{"Login Succeeded", "imagedefinitions.json names the image 127.0.0.1:"} {
		if !strings.Contains(log, want) {
			t.Errorf("the first build's log lacks %q:\n%s", want, log)
		}
	}
	client, url := newClient(), fmt.Sprintf("http://127.0.0.1:%d/", s.prod)
	waitFor(t, "version 1", 30*time.Second, func() bool {
		code, body := get(client, url)
		return code == 200 && body == "expresso version 1\n"
	})

	l := startStrictLoad(fmt.Sprintf("127.0.0.1:%d", s.prod), 4)
	app := readFile(t, filepath.Join(s.repo, "app.js"))
	writeFile(t, filepath.Join(s.repo, "app.js"), strings.Replace(app, "const VERSION = '1'", "const VERSION = '2'", 1))
	s.git(t, "commit", "-q", "-am", "version 2")
	s.push(t)
	l.finish(t)
	for range 10 {
		if code, body := get(client, url); code != 200 || body != "expresso version 2\n" {
			t.Fatalf("after the second push production answers %d %q", code, body)
		}
	}
	tags := strings.Join(s.tags(t), " ")
	for _, commit := range []string{s.git(t, "rev-parse", "--short=7", "HEAD~1"), s.git(t, "rev-parse", "--short=7", "HEAD")} {
		if !strings.Contains(tags, commit) {
			t.Errorf("the registry's %s has tags %q, not the pushed %s", s.name, tags, commit)
		}
	}
}

// TestSeed004Pipeline runs seed 004 (CodeBuild + CodeDeploy blue/green on
// ECS) with its Dockerfile and appspec.yaml verbatim and its buildspec
// changed only where it names the ECR host (docs/coming-from-aws.md):
// `aws ecr get-login-password | docker login --password-stdin`, then
// docker build/tag/push of ${REPOSITORY_URI}:latest, which cutover.yaml's
// image names, deployed blue/green with a production and a test
// listener and the health check on /health. The second push shifts
// traffic under load without a failed request.
func TestSeed004Pipeline(t *testing.T) {
	s := newSeed(t, "ecs-blue-green-nodejs", "seed004")
	nodeBaseImage(t, "node:10")
	s.up(t)

	e := s.push(t)
	log, _ := run(t, "pipeline", "logs", e.ID, "--data", s.data)
	for _, want := range []string{"Login Succeeded", "Runtime java corretto11 is not installed", "cutover.yaml names the image 127.0.0.1:"} {
		if !strings.Contains(log, want) {
			t.Errorf("the first build's log lacks %q:\n%s", want, log)
		}
	}
	client, url := newClient(), fmt.Sprintf("http://127.0.0.1:%d/", s.prod)
	waitFor(t, "version 1", 30*time.Second, func() bool {
		code, body := get(client, url)
		return code == 200 && body == "Hello World!"
	})

	l := startStrictLoad(fmt.Sprintf("127.0.0.1:%d", s.prod), 4)
	app := readFile(t, filepath.Join(s.repo, "app.js"))
	writeFile(t, filepath.Join(s.repo, "app.js"), strings.Replace(app, "'Hello World!'", "'Hello World v2!'", 1))
	s.git(t, "commit", "-q", "-am", "version 2")
	s.push(t)
	l.finish(t)
	for range 10 {
		if code, body := get(client, url); code != 200 || body != "Hello World v2!" {
			t.Fatalf("after the second push production answers %d %q", code, body)
		}
	}
}
