package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerImage builds e2e/testdata/web into a FROM scratch image and
// returns its tag; the image is removed when the test ends.
func dockerImage(t *testing.T) string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CUTOVER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine answers: %v", err)
		}
		t.Skip("no Docker Engine answers; scripts/test.sh starts one")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "web"), "./testdata/web")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test app: %v\n%s", err, out)
	}
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY web /web\nEXPOSE 8080\nENTRYPOINT [\"/web\"]\n")
	tag := fmt.Sprintf("cutover-e2e-web:%08x", rand.Uint32())
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// removeContainers removes the containers of app: tasks outlive cutover
// by design, so a test removes its own.
func removeContainers(app string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=cutover.app="+app).Output()
	for _, id := range strings.Fields(string(out)) {
		exec.Command("docker", "rm", "-f", id).Run()
	}
}

func TestUpDockerRuntimeBlueGreen(t *testing.T) {
	image := dockerImage(t)
	prod, test := freePort(t), freePort(t)
	dir, data := t.TempDir(), t.TempDir()
	app := fmt.Sprintf("web-%08x", rand.Uint32()) // its containers are this test's alone
	writeFile(t, filepath.Join(dir, "cutover.yaml"), fmt.Sprintf(`name: %s
service:
  runtime: docker
  image: %s
  port: 8080
  count: 2
  env: {VERSION: "1"}
  stop_timeout: 5s
health: {path: /status, interval: 1s, timeout: 500ms, healthy_threshold: 2}
listeners: {production: "127.0.0.1:%d", test: "127.0.0.1:%d"}
deploy:
  traffic: {type: linear, percent: 50, interval: 1s}
  termination_wait: 1s
  deregistration_delay: 1s
`, app, image, prod, test))
	start(t, "up", dir, "--data", data, "--api-addr", "")
	url := fmt.Sprintf("http://127.0.0.1:%d/", prod)
	client := newClient()
	waitFor(t, "version 1 in containers", 60*time.Second, func() bool {
		code, body := get(client, url)
		return code == 200 && body == "version 1\n"
	})
	t.Cleanup(func() { removeContainers(app) })
	waitFor(t, "the first deployment to end", 60*time.Second, func() bool {
		out, _ := run(t, "history", app, "--data", data, "--json")
		return strings.Contains(out, `"status": "Succeeded"`)
	})

	l := startLoad(url, 4)
	out, code := run(t, "deploy", dir, "--data", data, "--env", "VERSION=2")
	if code != 0 {
		t.Fatalf("deploy to containers: exit %d\n%s", code, out)
	}
	l.finish(t)
	for range 10 {
		if _, body := get(client, url); body != "version 2\n" {
			t.Fatalf("after the deployment production answers %q", body)
		}
	}
	ps, _ := exec.Command("docker", "ps", "-q", "--filter", "label=cutover.app="+app).Output()
	if n := len(strings.Fields(string(ps))); n != 2 {
		t.Errorf("%d containers of %s run after the deployment, want 2 (the old ones stopped)", n, app)
	}
}
