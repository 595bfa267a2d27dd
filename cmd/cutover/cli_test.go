package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/server"
	"github.com/cutover/cutover/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testAppSource is a tiny HTTP app: it answers its version and is
// healthy on /status.
const testAppSource = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	version := os.Getenv("APP_VERSION")
	fmt.Println("starting version", version)
	http.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, version) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// testApp builds the test app into a directory with its cutover.yaml.
func testApp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte(testAppSource), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "app"), src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test app: %v\n%s", err, out)
	}
	cfg := fmt.Sprintf(`name: hello
service:
  runtime: process
  command: [./app]
  port: 3000
  count: 2
  env: {APP_VERSION: "1"}
  stop_timeout: 2s
health: {path: /status, interval: 500ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2}
listeners: {production: "127.0.0.1:%d", test: "127.0.0.1:%d"}
deploy:
  strategy: blue_green
  traffic: {type: linear, percent: 50, interval: 1s}
  termination_wait: 0s
  deregistration_delay: 0s
  rollback: {on_failure: true, alarms: []}
`, freePort(t), freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "cutover.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemon starts a real cutover in a fresh data directory, with the API
// on the socket and on a loopback port; it stops it and its tasks at the
// end of the test.
func daemon(t *testing.T) *server.Server {
	t.Helper()
	ctx := context.Background()
	srv, err := server.Start(ctx, server.Options{DataDir: t.TempDir(), API: api.TCPOptions{Addr: "127.0.0.1:0"}, InProcessDataPlane: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.CloseAndStopTasks(ctx); err != nil {
			t.Errorf("stopping cutover: %v", err)
		}
	})
	select {
	case <-srv.Controller().Started():
	case <-time.After(10 * time.Second):
		t.Fatal("the controller did not start")
	}
	return srv
}

// cutover runs the CLI in-process and returns its output and error.
func cutover(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	t.Logf("cutover %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// normalisers replace what changes from run to run.
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "<time>"},
	{regexp.MustCompile(`cot_[A-Za-z0-9_-]{43}`), "<token>"},
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)(\d+(\.\d+)?(ms|s|m))*\b`), "<dur>"},
	// Columns are aligned to the widths before normalising.
	{regexp.MustCompile(`  +`), "  "},
	{regexp.MustCompile(` +\n`), "\n"},
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	for _, n := range normalisers {
		got = n.re.ReplaceAllString(got, n.with)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// targetLines are the "targets n/m healthy" lines of deploy's output.
// Task health and lifecycle steps are recorded by different parts of the
// controller, so where these lines fall among the steps varies from run
// to run: deployGolden checks them apart from the golden file.
var targetLines = regexp.MustCompile(`(?m)^  · targets .*\n`)

// deployGolden checks deploy's output against a golden file, and that
// its targets lines end with want.
func deployGolden(t *testing.T, name, out, want string) {
	t.Helper()
	lines := targetLines.FindAllString(out, -1)
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], want) {
		t.Errorf("%s: targets lines %q, want the last to say %q", name, lines, want)
	}
	golden(t, name, targetLines.ReplaceAllString(out, ""))
}

func exitCode(err error) int {
	var e exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.code
	}
	return 1
}

// TestCLIAgainstARealServer deploys a tiny app twice through a real
// cutover and checks what the CLI prints, over the socket (admin) and
// over TCP with tokens.
func TestCLIAgainstARealServer(t *testing.T) {
	srv := daemon(t)
	app := testApp(t)
	sock := []string{"--server", srv.SocketPath()}
	remote := "http://" + srv.APIAddr().String()

	out, err := cutover(t, append([]string{"deploy", app}, sock...)...)
	if err != nil {
		t.Fatalf("first deploy: %v", err)
	}
	deployGolden(t, "deploy-first", out, "2/2 healthy")

	out, err = cutover(t, append([]string{"deploy", app, "-e", "APP_VERSION=2"}, sock...)...)
	if err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	deployGolden(t, "deploy-second", out, "2/2 healthy")

	// Tokens: made on the socket, used over TCP.
	out, err = cutover(t, append([]string{"token", "create", "--role", "read", "--name", "ci"}, sock...)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "token-create", out)
	readToken := regexp.MustCompile(`cot_[A-Za-z0-9_-]{43}`).FindString(out)
	out, err = cutover(t, append([]string{"token", "create", "--role", "deploy", "--name", "deployer", "--json"}, sock...)...)
	if err != nil {
		t.Fatal(err)
	}
	var deployer api.NewToken
	if err := json.Unmarshal([]byte(out), &deployer); err != nil {
		t.Fatal(err)
	}

	t.Setenv("CUTOVER_SERVER", remote)
	t.Setenv("CUTOVER_TOKEN", readToken)
	out, err = cutover(t, "status")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "status", out)
	out, err = cutover(t, "history")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "history", out)

	out, err = cutover(t, "tasks", "hello")
	if err != nil || !regexp.MustCompile(`(?m)^hello-\S+\s+hello\s+hello-r2\s+\w+\s+healthy\s+127\.0\.0\.1:\d+$`).MatchString(out) {
		t.Errorf("tasks: %v\n%s", err, out)
	}
	task := strings.Fields(strings.Split(out, "\n")[1])[0]
	out, err = cutover(t, "logs", task, "--tail", "5")
	if err != nil || !strings.Contains(out, "starting version 2") {
		t.Errorf("logs %s: %v\n%s", task, err, out)
	}
	out, err = cutover(t, "logs", task, "--json")
	if err != nil || !strings.Contains(out, `{"task":"`+task+`","line":"starting version 2"}`) {
		t.Errorf("logs %s --json: %v\n%s", task, err, out)
	}
	out, err = cutover(t, "logs", "hello", "--revision", "r2")
	if err != nil || !strings.Contains(out, task+" out | starting version 2\n") {
		t.Errorf("logs hello: %v\n%s", err, out)
	}
	if _, err = cutover(t, "logs", "hello", "--revision", "r9"); err == nil || !strings.Contains(err.Error(), "no revision hello-r9") {
		t.Errorf("logs hello --revision r9: %v, want no such revision", err)
	}
	if _, err = cutover(t, "logs", "nope"); err == nil || !strings.Contains(err.Error(), "no app or task is called nope") {
		t.Errorf("logs nope: %v, want no app or task", err)
	}

	// A deploy token deploys; a failing hook rolls the deployment back
	// and the exit code says so.
	cfg, err := os.ReadFile(filepath.Join(app, "cutover.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, "  hooks: {AfterAllowTestTraffic: [\"echo smoke test failed; exit 3\"]}\n"...)
	if err := os.WriteFile(filepath.Join(app, "cutover.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = cutover(t, "deploy", app, "-e", "APP_VERSION=3", "--token", deployer.Secret)
	if code := exitCode(err); code != exitRolledBack {
		t.Errorf("a rolled back deploy exited %d (%v), want %d", code, err, exitRolledBack)
	}
	deployGolden(t, "deploy-rollback", out, "0/2 healthy")
	d3, err := api.NewClient(srv.SocketPath()).Deployment(context.Background(), "hello-d3")
	if err != nil || d3.Status != "RolledBack" {
		t.Fatalf("hello-d3: %+v, %v", d3, err)
	}
	created, err := srv.Store().Events(context.Background(), store.EventFilter{Deployment: "hello-d3", Types: []string{store.EventDeploymentCreated}})
	if err != nil || len(created) != 1 || created[0].Actor != "token:deployer" {
		t.Errorf("hello-d3's deployment.created: %+v, %v; want it made by token:deployer", created, err)
	}

	// The read token may not deploy, roll back or list tokens.
	if out, err := cutover(t, "rollback", "hello-d2"); err == nil || !strings.Contains(out, "token:ci has role read") {
		t.Errorf("rollback with a read token: %v\n%s", err, out)
	}
	if out, err := cutover(t, "token", "list"); err == nil || !strings.Contains(out, "needs admin") {
		t.Errorf("token list with a read token: %v\n%s", err, out)
	}
	t.Setenv("CUTOVER_TOKEN", "")
	if out, err := cutover(t, "status"); err == nil || !strings.Contains(out, "needs a token") {
		t.Errorf("status without a token: %v\n%s", err, out)
	}

	// Revoke and list, on the socket.
	t.Setenv("CUTOVER_SERVER", "")
	if _, err := cutover(t, append([]string{"token", "revoke", "ci"}, sock...)...); err != nil {
		t.Fatal(err)
	}
	out, err = cutover(t, append([]string{"token", "list"}, sock...)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "token-list", out)
	if strings.Contains(out, deployer.Secret) {
		t.Error("token list shows a secret")
	}
}
