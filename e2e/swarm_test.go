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

// swarmManager makes the Engine a single-node swarm manager, advertised
// on loopback, unless it is in a swarm already; a swarm it created it
// leaves when the test ends.
func swarmManager(t *testing.T) {
	t.Helper()
	state, err := exec.Command("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	if err != nil {
		t.Fatalf("asking the Engine about its swarm: %v", err)
	}
	if strings.TrimSpace(string(state)) == "active" {
		return
	}
	if out, err := exec.Command("docker", "swarm", "init", "--advertise-addr", "127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("docker swarm init: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "swarm", "leave", "--force").Run() })
}

// services returns the ids of the Swarm services of app.
func services(t *testing.T, app string) []string {
	t.Helper()
	out, err := exec.Command("docker", "service", "ls", "-q", "--filter", "label=cutover.app="+app).Output()
	if err != nil {
		t.Fatalf("docker service ls: %v", err)
	}
	return strings.Fields(string(out))
}

func TestUpSwarmRuntime(t *testing.T) {
	image := dockerImage(t)
	swarmManager(t)
	app := fmt.Sprintf("web-%08x", rand.Uint32()) // its services are this test's alone
	t.Cleanup(func() {
		// Runs after cutover stopped (cleanups run last first): the tasks'
		// services outlive cutover by design.
		for _, id := range services(t, app) {
			exec.Command("docker", "service", "rm", id).Run()
		}
	})
	prod, test := freePort(t), freePort(t)
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "cutover.yaml"), fmt.Sprintf(`name: %s
service:
  runtime: swarm
  image: %s
  port: 8080
  count: 2
  env: {VERSION: "1"}
  stop_timeout: 5s
  placement: [node.role==manager]
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
	waitFor(t, "version 1 on the swarm", 60*time.Second, func() bool {
		code, body := get(client, url)
		return code == 200 && body == "version 1\n"
	})
	waitFor(t, "the first deployment to end", 60*time.Second, func() bool {
		out, _ := run(t, "history", app, "--data", data, "--json")
		return strings.Contains(out, `"status": "Succeeded"`)
	})
	ids := services(t, app)
	if len(ids) != 2 {
		t.Fatalf("%d Swarm services of web run, want 2 (one per task)", len(ids))
	}
	for _, id := range ids {
		out, err := exec.Command("docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.Placement.Constraints}}", id).Output()
		if err != nil || strings.TrimSpace(string(out)) != "[node.role==manager]" {
			t.Errorf("service %s has placement constraints %q (%v), want [node.role==manager]", id, out, err)
		}
	}

	l := startLoad(url, 4)
	out, code := run(t, "deploy", dir, "--data", data, "--env", "VERSION=2")
	if code != 0 {
		t.Fatalf("deploy on the swarm: exit %d\n%s", code, out)
	}
	l.finish(t)
	for range 10 {
		if _, body := get(client, url); body != "version 2\n" {
			t.Fatalf("after the deployment production answers %q", body)
		}
	}
	waitFor(t, "the old task set's services to go", 30*time.Second, func() bool {
		return len(services(t, app)) == 2
	})
}
