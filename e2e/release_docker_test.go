package e2e

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReleaseCommandAndRunOnDocker: on the docker runtime the release
// command runs in a container of the new image with the new revision's
// environment, and its failure fails the deployment under load with the
// old containers still serving; `cutover run` runs in the current image
// and exits with its code. As with docker run, the command replaces the
// image's CMD: an image with an ENTRYPOINT gets it as its arguments.
func TestReleaseCommandAndRunOnDocker(t *testing.T) {
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
  release: [release] # the image's ENTRYPOINT /web gets it as its argument
  release_timeout: 1m
  termination_wait: 1s
  deregistration_delay: 1s
`, app, image, prod, test))
	start(t, "up", dir, "--data", data, "--api-addr", "")
	t.Cleanup(func() { removeContainers(app) })
	url := fmt.Sprintf("http://127.0.0.1:%d/", prod)
	client := newClient()
	waitFor(t, "version 1 in containers", 60*time.Second, func() bool {
		code, body := get(client, url)
		return code == 200 && body == "version 1\n"
	})
	waitFor(t, "the first deployment to end", 60*time.Second, func() bool {
		out, _ := run(t, "history", app, "--data", data, "--json")
		return strings.Contains(out, `"status": "Succeeded"`)
	})

	l := startLoad(url, 4)
	out, code := run(t, "deploy", dir, "--data", data, "--env", "VERSION=2")
	if code != 0 || !strings.Contains(out, "releasing version 2") {
		t.Fatalf("deploy with a release command: exit %d\n%s", code, out)
	}
	out, code = run(t, "deploy", dir, "--data", data, "--env", "VERSION=3", "--env", "RELEASE_EXIT=4")
	l.finish(t)
	if code == 0 || !strings.Contains(out, "exited with code 4") || !strings.Contains(out, "releasing version 3") {
		t.Fatalf("deploy whose release command exits 4: exit %d\n%s", code, out)
	}
	if n := l.count("version 3\n"); n != 0 {
		t.Errorf("%d requests reached the version whose release command failed", n)
	}
	if _, body := get(client, url); body != "version 2\n" {
		t.Errorf("after the failed deployment production answers %q", body)
	}

	out, code = run(t, "run", app, "--data", data, "--", "release")
	if code != 0 || out != "releasing version 2\n" {
		t.Errorf("cutover run in the current image: exit %d, output %q", code, out)
	}
	ps, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=cutover.app="+app).Output()
	if n := len(strings.Fields(string(ps))); n != 2 {
		t.Errorf("%d containers of %s after the one-off tasks, want the 2 of the service", n, app)
	}
}
