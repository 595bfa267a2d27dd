package build

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/sandbox/sandboxtest"
)

// TestBuildCannotReachWhatIsNotItsOwn is the privilege chain of issue 16
// end to end: a build in a pipeline's workspace inside cutover's data
// directory tries to read the data directory, the unix socket, another
// app's files and the daemon's environment, and to restore cache paths
// over the host's files; each attempt fails, and the build still gets its
// own workspace, home, /tmp and cache.
func TestBuildCannotReachWhatIsNotItsOwn(t *testing.T) {
	sb := sandboxtest.Full(t)
	data := sandboxtest.DataDir(t)
	src := filepath.Join(data, "pipelines", "app", "exec-1", "src")
	other := filepath.Join(data, "pipelines", "other", "exec-1", "src")
	for _, d := range []string{src, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(other, "server.js"), []byte("other app"), 0o644)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "daemon-credential")

	// A host path the cache would restore over, and one that must not
	// appear on the host at all.
	victimDir := filepath.Join(os.TempDir(), "cutover-victim-"+randomHex(t))
	os.MkdirAll(victimDir, 0o755)
	defer os.RemoveAll(victimDir)
	os.WriteFile(filepath.Join(victimDir, "victim"), []byte("host"), 0o644)
	engineDir := "/var/lib/cutover-test-engine-" + randomHex(t)
	cacheDir := t.TempDir()
	for _, dir := range []string{victimDir, engineDir} {
		stored := filepath.Join(cacheDir, "abs", dir)
		os.MkdirAll(stored, 0o700)
		os.WriteFile(filepath.Join(stored, "victim"), []byte("cached"), 0o600)
	}

	probes := map[string]string{
		"the data directory":  "ls -A " + data + " | grep -qv '^pipelines$'", // only the way to the workspace is there
		"the secrets key":     "cat " + filepath.Join(data, "secrets.key"),
		"the socket":          "test -e " + filepath.Join(data, "cutover.sock"),
		"another apps files":  "cat " + filepath.Join(other, "server.js"),
		"the daemon env":      `test -n "$AWS_SECRET_ACCESS_KEY"`,
		"the host home":       "ls /root/.. /home 2>/dev/null | grep -q .; test -e /root/.bashrc",
		"root privileges":     `test "$(id -u)" = 0`,
		"the host engine dir": "test -e /var/lib/docker",
		"the engine socket":   "test -e /var/run/docker.sock",
	}
	var cmds []string
	for name, probe := range probes {
		// The marker is split so that the logged command does not hold it.
		cmds = append(cmds, "if "+probe+"; then echo 'REA''CHED "+name+"'; fi")
	}
	cmds = append(cmds,
		`test "$(cat `+victimDir+`/victim)" = cached`, // the cache, restored in the sandbox
		`test "$(cat `+engineDir+`/victim)" = cached`,
		"echo built > out.txt && echo home > ~/h && echo tmp > /tmp/t",
		"echo PROBES DONE")
	spec := "version: 0.2\nphases:\n  build:\n    commands:\n"
	for _, c := range cmds {
		spec += "      - " + yamlQuote(c) + "\n"
	}
	spec += "cache:\n  paths:\n    - '" + victimDir + "/**/*'\n    - '" + engineDir + "/**/*'\n"

	res, log, _ := runBuild(t, spec, nil, Options{SrcDir: src, CacheDir: cacheDir, Sandbox: sb})
	if !res.Succeeded || !strings.Contains(log, "PROBES DONE") {
		t.Fatalf("build failed: %+v", res)
	}
	for name := range probes {
		if strings.Contains(log, "REACHED "+name) {
			t.Errorf("the build reached %s", name)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(victimDir, "victim")); string(b) != "host" {
		t.Errorf("the cache was restored over the host's file: it holds %q", b)
	}
	if _, err := os.Stat(engineDir); err == nil {
		os.RemoveAll(engineDir)
		t.Errorf("the cache made %s on the host", engineDir)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "out.txt")); string(b) != "built\n" {
		t.Errorf("the build's output in its workspace: %q", b)
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestPrivilegedBuildReachesOnlyImageBuilds runs a privileged build
// (Options.Docker) against the real Docker Engine: it builds, tags and
// inspects an image, and every attempt to run a container, mount the
// host, exec or delete is refused by the filter.
func TestPrivilegedBuildReachesOnlyImageBuilds(t *testing.T) {
	sb := sandboxtest.Full(t)
	engine := "/var/run/docker.sock"
	if _, err := os.Stat(engine); err != nil {
		if os.Getenv("CUTOVER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine: %v", err)
		}
		t.Skipf("no Docker Engine: %v", err)
	}
	tag := "cutover-filter-test:" + randomHex(t)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	probes := map[string]string{
		"a container with the host mounted": "docker run --rm -v /:/host " + tag + " /x",
		"a container created":               "docker create " + tag + " /x",
		"the container list":                "docker ps",
		"a volume":                          "docker volume create v-" + randomHex(t),
		"an image deleted":                  "docker rmi " + tag,
		"the host network in a build":       "DOCKER_BUILDKIT=0 docker build --network host -t " + tag + "-h .",
	}
	cmds := []string{
		`printf 'FROM scratch\nCOPY hello.txt /\n' > Dockerfile && echo hi > hello.txt`,
		"DOCKER_BUILDKIT=0 docker build -t " + tag + " .",
		"docker tag " + tag + " " + tag + "-copy && docker image inspect " + tag + "-copy >/dev/null",
	}
	for name, probe := range probes {
		cmds = append(cmds, "if "+probe+"; then echo 'REA''CHED "+name+"'; fi")
	}
	cmds = append(cmds, "echo PROBES DONE")
	spec := "version: 0.2\nphases:\n  build:\n    commands:\n"
	for _, c := range cmds {
		spec += "      - " + yamlQuote(c) + "\n"
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag+"-copy").Run() })
	res, log, _ := runBuild(t, spec, nil, Options{Sandbox: sb, Docker: engine})
	if !res.Succeeded || !strings.Contains(log, "PROBES DONE") {
		t.Fatalf("build failed: %+v", res)
	}
	for name := range probes {
		if strings.Contains(log, "REACHED "+name) {
			t.Errorf("the build reached %s", name)
		}
	}
	if !strings.Contains(log, "cutover refused POST") {
		t.Error("the log does not show the filter's refusal")
	}
	if err := exec.Command("docker", "image", "inspect", tag).Run(); err != nil {
		t.Errorf("the image the build made is not in the Engine: %v", err)
	}
}

// TestSandboxedBuildExportsVariables: exported variables come back from a
// sandboxed build through its own exports directory.
func TestSandboxedBuildExportsVariables(t *testing.T) {
	sb := sandboxtest.Full(t)
	spec := "version: 0.2\nenv:\n  exported-variables: [IMAGE_TAG, UNSET]\nphases:\n  build:\n    commands:\n      - export IMAGE_TAG=v1-$(id -u)\n"
	res, _, _ := runBuild(t, spec, nil, Options{Sandbox: sb})
	uid, _ := sb.User()
	if want := fmt.Sprintf("v1-%d", uid); !res.Succeeded || res.Exported["IMAGE_TAG"] != want {
		t.Fatalf("exported %v (succeeded %v), want IMAGE_TAG=%s", res.Exported, res.Succeeded, want)
	}
	if _, ok := res.Exported["UNSET"]; ok {
		t.Error("an unset variable was exported")
	}
}
