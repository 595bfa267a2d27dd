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

// TestExpressAppThroughGitPush: an Express app with its dependencies from
// the npm registry. The developer runs `npm ci` and `cutover up` in the
// working copy (node_modules/.bin holds links into node_modules); then
// each commit is pushed to cutover's git remote, where the buildspec runs
// `npm ci` and `npm test` in the sandbox and the artifact, node_modules
// included, is deployed under load: the first build, a second version,
// and a version whose health check fails, rolled back.
func TestExpressAppThroughGitPush(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is needed; scripts/test.sh installs it")
	}
	a := newPushedApp(t, "express", "express")
	a.inRepo(t, "npm", "ci", "--no-audit", "--no-fund")
	a.up(t, "express version 1\n")

	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)
	a.mustSucceed(t, a.push(t, a.token)) // version 1, built by the pipeline
	e := expressUpdates(t, a, l)
	if log := a.log(t, e.ID); !strings.Contains(log, "npm ci") || !strings.Contains(log, "# pass 1") {
		t.Errorf("the build log shows no npm ci or no passed test:\n%s", log)
	}
	checkBinLink(t, e.Artifact)
}

// TestExpressAppOnDockerThroughGitPush: the same app on the docker
// runtime. `cutover up` registers it (its first deployment fails: no
// image exists yet); each push runs the buildspec in the sandbox, then
// cutover builds the checkout's Dockerfile, node_modules from the build
// included, and deploys the image: the first build, then a second
// version under load, and an unhealthy one rolled back.
func TestExpressAppOnDockerThroughGitPush(t *testing.T) {
	needDocker(t)
	nodeBaseImage(t, "node:20")
	name := fmt.Sprintf("express-%08x", rand.Uint32()) // its containers and images are this test's alone
	a := newPushedApp(t, name, "express")
	t.Cleanup(func() { removeAppContainers(name) })
	a.replace(t, "cutover.yaml", "  command: [node, server.js]\n", "  runtime: docker\n")
	a.commit(t, "on the docker runtime")
	if status := a.start(t); status == "Succeeded" {
		t.Fatal("a first deployment without an image succeeded")
	}

	e := a.push(t, a.token)
	a.mustSucceed(t, e)
	a.waitBody(t, "express version 1\n", 10*time.Second)
	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)
	expressUpdates(t, a, l)
	if log := a.log(t, e.ID); !strings.Contains(log, "Building image "+name+":") {
		t.Errorf("the log does not show the image built from the Dockerfile:\n%s", log)
	}
}

// expressUpdates pushes version 2 of the Express app, then a version 3
// whose health check fails, and finishes the load: 2 must be deployed
// and 3 rolled back without a failed request, and 2 still served. It
// returns the execution of version 2.
func expressUpdates(t *testing.T, a *pushedApp, l *strictLoad) execution {
	t.Helper()
	a.replace(t, "server.js", "const VERSION = '1';", "const VERSION = '2';")
	a.commit(t, "version 2")
	e := a.push(t, a.token)
	a.mustSucceed(t, e)
	a.waitBody(t, "express version 2\n", 10*time.Second)

	a.replace(t, "server.js", "const VERSION = '2';", "const VERSION = '3';")
	a.replace(t, "server.js", "const HEALTHY = true;", "const HEALTHY = false;")
	a.pushUnhealthy(t, a.token)
	l.finish(t)
	a.checkServes(t, "express version 2\n", 20)
	return e
}

// removeAppContainers removes an app's containers (tasks outlive cutover
// by design) and the images its pipeline built, tagged <app>:<commit>.
func removeAppContainers(app string) {
	removeContainers(app)
	out, _ := exec.Command("docker", "images", "-q", "--filter", "reference="+app).Output()
	for _, id := range strings.Fields(string(out)) {
		exec.Command("docker", "rmi", "-f", id).Run()
	}
}

// checkBinLink checks that the release keeps node_modules/.bin/mime as
// npm made it, a link to ../mime/cli.js, and that the command runs.
func checkBinLink(t *testing.T, release string) {
	t.Helper()
	bin := filepath.Join(release, "node_modules", ".bin", "mime")
	if to, err := os.Readlink(bin); err != nil || to != "../mime/cli.js" {
		t.Errorf("the release's node_modules/.bin/mime: %q, %v; want a link to ../mime/cli.js", to, err)
	}
	if out, err := exec.Command(bin, "x.json").CombinedOutput(); err != nil || string(out) != "application/json\n" {
		t.Errorf("the release's node_modules/.bin/mime x.json: %v\n%s", err, out)
	}
}

// TestGoServiceThroughGitPush: a Go service that the pipeline tests and
// builds with the machine's Go toolchain in the sandbox, offline, its
// build cache kept between builds; under load, the first build and a
// second version are deployed, and an unhealthy third rolled back.
func TestGoServiceThroughGitPush(t *testing.T) {
	a := newPushedApp(t, "goservice", "goservice")
	a.inRepo(t, "go", "build", "-o", "server", ".")
	a.up(t, "goservice version 1\n")

	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)
	a.mustSucceed(t, a.push(t, a.token)) // version 1, built by the pipeline
	a.replace(t, "main.go", `version = "1"`, `version = "2"`)
	a.commit(t, "version 2")
	e := a.push(t, a.token)
	a.mustSucceed(t, e)
	a.waitBody(t, "goservice version 2\n", 10*time.Second)
	a.replace(t, "main.go", `version = "2"`, `version = "3"`)
	a.replace(t, "main.go", "healthy = true", "healthy = false")
	a.pushUnhealthy(t, a.token)
	l.finish(t)
	a.checkServes(t, "goservice version 2\n", 20)
	if log := a.log(t, e.ID); !strings.Contains(log, "ok  \texample.com/goservice") {
		t.Errorf("the build log shows no passed go test:\n%s", log)
	}
}

// TestPythonAppThroughGitPush: a Python app served by the standard
// library's http.server with Debian's python3, its unittest run by the
// buildspec; pushed with the pipeline secret as the password. Under
// load, the first build and a second version are deployed, and an
// unhealthy third rolled back.
func TestPythonAppThroughGitPush(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("Debian's python3 is needed; scripts/test.sh installs it")
	}
	a := newPushedApp(t, "pyapp", "pyapp")
	a.up(t, "pyapp version 1\n")
	secret := a.secret(t)

	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)
	a.mustSucceed(t, a.push(t, secret)) // version 1, built by the pipeline
	a.replace(t, "server.py", `VERSION = "1"`, `VERSION = "2"`)
	a.commit(t, "version 2")
	e := a.push(t, secret)
	a.mustSucceed(t, e)
	a.waitBody(t, "pyapp version 2\n", 10*time.Second)
	a.replace(t, "server.py", `VERSION = "2"`, `VERSION = "3"`)
	a.replace(t, "server.py", "HEALTHY = True", "HEALTHY = False")
	a.pushUnhealthy(t, secret)
	l.finish(t)
	a.checkServes(t, "pyapp version 2\n", 20)
	if log := a.log(t, e.ID); !strings.Contains(log, "test_root_answers_with_the_version (test_server.ServerTest") || !strings.Contains(log, "OK") {
		t.Errorf("the build log shows no passed unittest:\n%s", log)
	}
}
