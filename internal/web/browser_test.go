package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/server"
	"github.com/cutover/cutover/internal/store"
)

// The dashboard in a real Chromium against a real cutover: the daemon
// runs in-process on a temporary data directory, deploys a small Go app
// with the process runtime, and the browser watches and rolls back.
//
// Chromium is Debian's package at /usr/bin/chromium (scripts/test.sh
// installs it). Without it the test is skipped, or fails when
// CUTOVER_REQUIRE_CHROMIUM=1. With CUTOVER_SCREENSHOTS=DIR it saves the
// screenshots docs/dashboard.md shows into DIR.

const testApp = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	version := os.Getenv("VERSION")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, version) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

const appYAML = `name: shop
source: {repo: ., branch: main}
build: {spec: buildspec.yml}
service:
  runtime: process
  command: [./app]
  port: 3000
  count: 2
  stop_timeout: 2s
health: {path: /, interval: 500ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2}
listeners: {production: "127.0.0.1:%d"}
deploy:
  strategy: blue_green
  traffic: {type: linear, percent: 25, interval: 1s}
  termination_wait: %s
  deregistration_delay: 0s
  rollback:
    alarms: [{metric: error_rate, above: 0.05, for: 10s}]
`

const buildspec = `version: 0.2
phases:
  build:
    commands:
      - echo "checking the release"
      - for step in vet test package; do echo "$step ..."; sleep 0.4; echo "$step ok"; done
      - test -x app
`

// chromiumPath returns Chromium's path, or skips (fails under
// CUTOVER_REQUIRE_CHROMIUM=1) without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CUTOVER_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("Chromium is required (CUTOVER_REQUIRE_CHROMIUM=1) but not installed: apt-get install chromium")
	}
	t.Skip("Chromium is not installed (apt-get install chromium); set CUTOVER_REQUIRE_CHROMIUM=1 to fail instead")
	return ""
}

func TestDashboardInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
	defer cancel()

	prod := freePort(t)
	dir := newAppRepo(t, prod)
	srv, err := server.Start(ctx, server.Options{DataDir: filepath.Join(t.TempDir(), "data"), API: api.TCPOptions{Addr: "127.0.0.1:0"}, InProcessDataPlane: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.CloseAndStopTasks(ctx); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	base := "http://" + srv.APIAddr().String()
	st := srv.Store()
	token := createToken(t, st, "dora", store.RoleDeploy)

	// v1, the version to roll back to.
	d1, err := srv.DeployDir(ctx, api.DeployRequest{Dir: dir, Env: map[string]string{"VERSION": "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ctx, st, d1.ID, store.DeploymentSucceeded)

	b := newBrowser(t, ctx, chromium)
	shots := os.Getenv("CUTOVER_SCREENSHOTS")

	// Without a session, the dashboard sends the browser to sign in.
	do(t, b, chromedp.Navigate(base+"/deployments/"+d1.ID))
	if loc := run(t, b, chromedp.Location()); !strings.HasPrefix(loc, base+"/login?next=") {
		t.Fatalf("without a session the browser is at %s, want the login page", loc)
	}
	do(t, b,
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#summary")),
	)
	if loc := run(t, b, chromedp.Location()); loc != base+"/deployments/"+d1.ID {
		t.Errorf("after signing in the browser is at %s, want where it was going", loc)
	}

	// The overview lists the app with its revision and health.
	do(t, b, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-app="shop"]`)))
	card := run(t, b, chromedp.Text(chromedp.CSS(`[data-app="shop"]`)))
	for _, want := range []string{"shop", "shop-r1", "2/2 healthy", d1.ID, "Succeeded"} {
		if !strings.Contains(card, want) {
			t.Errorf("the overview's card of shop lacks %q:\n%s", want, card)
		}
	}

	// v2, shifted 25% a second; the page follows it without a reload.
	load := startLoad(t, ctx, prod)
	writeYAML(t, dir, prod, "2m") // keep v1 running after the shift, so rollback is instant
	d2, err := srv.DeployDir(ctx, api.DeployRequest{Dir: dir, Env: map[string]string{"VERSION": "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	do(t, b, chromedp.Navigate(base+"/deployments/"+d2.ID), chromedp.WaitVisible(chromedp.CSS("#summary")))
	run(t, b, chromedp.Evaluate[int]("window.notReloaded = 1"))
	first := waitShare(t, b, func(share int) bool { return share > 0 && share < 100 })
	firstPoints := chartPoints(t, b)
	later := waitShare(t, b, func(share int) bool { return share > first })
	screenshot(t, b, shots, "dashboard-deployment.png")
	if points := chartPoints(t, b); points == firstPoints {
		t.Errorf("the chart's data points did not change: %q", points)
	}
	if run(t, b, chromedp.Evaluate[int]("window.notReloaded || 0")) != 1 {
		t.Error("the page was reloaded; it should update in place")
	}
	t.Logf("new revision's share on the page: %d%% then %d%%", first, later)

	// A POST without the CSRF token is refused, and changes nothing.
	status := run(t, b, chromedp.Evaluate[int](
		fmt.Sprintf(`fetch("/deployments/%s/rollback", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "x=1"}).then(r => r.status)`, d2.ID),
		chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, want 403", status)
	}
	if d, err := st.GetDeployment(ctx, d2.ID); err != nil || !d.Active() {
		t.Fatalf("after the refused POST the deployment is %+v (%v), want it still active", d.Status, err)
	}

	// Rollback: click, confirm, and the deployment ends RolledBack with
	// production on v1.
	click(t, b, "#rollback")
	do(t, b, chromedp.WaitVisible(chromedp.CSS("#confirm")))
	click(t, b, "#confirm")
	do(t, b, chromedp.WaitVisible(chromedp.CSS("#summary")))
	waitEnded(t, ctx, st, d2.ID, store.DeploymentRolledBack)
	waitText(t, b, "#summary .status", store.DeploymentRolledBack)
	load.stop()
	for i := range 20 {
		if v := getBody(t, fmt.Sprintf("http://127.0.0.1:%d/", prod)); v != "v1" {
			t.Fatalf("request %d to production after the rollback answered %q, want v1", i, v)
		}
	}
	if load.failed() > 0 {
		t.Errorf("%d of %d requests failed during the deployment and rollback", load.failed(), load.sent())
	}
	do(t, b, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-app="shop"]`)))
	if card := run(t, b, chromedp.Text(chromedp.CSS(`[data-app="shop"]`))); !strings.Contains(card, "RolledBack") {
		t.Errorf("the overview does not show the rollback:\n%s", card)
	}
	screenshot(t, b, shots, "dashboard-overview.png")

	// A pipeline execution: stages, and the build log streamed live.
	ex, err := srv.Pipeline().Start(ctx, "shop", pipeline.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	do(t, b, chromedp.Navigate(base+"/pipelines/"+ex.ID), chromedp.WaitVisible(chromedp.CSS("#stages")))
	waitText(t, b, "#log", "package ok")
	waitText(t, b, "#stages", "Build")
	screenshot(t, b, shots, "dashboard-pipeline.png")
	do(t, b, chromedp.Navigate(base+"/pipelines"), chromedp.WaitVisible(chromedp.CSS(`a[href="/pipelines/`+ex.ID+`"]`)))
	if shots != "" { // the deployment page on a phone
		do(t, b, chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/deployments/"+d2.ID), chromedp.WaitVisible(chromedp.CSS("#summary")))
		screenshot(t, b, shots, "dashboard-phone.png")
	}
	if err := srv.Pipeline().Stop(ctx, ex.ID); err != nil {
		t.Logf("stopping the execution: %v", err) // it may have ended
	}
}

// newAppRepo writes the test app, built, into a git repository with its
// cutover.yaml and buildspec.yml.
func newAppRepo(t *testing.T, prod int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "main.go"), testApp)
	write(t, filepath.Join(dir, "go.mod"), "module shop\n\ngo 1.22\n")
	write(t, filepath.Join(dir, "buildspec.yml"), buildspec)
	writeYAML(t, dir, prod, "0s")
	build := exec.Command("go", "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test app: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "."},
		{"-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "shop"},
	} {
		git := exec.Command("git", args...)
		git.Dir = dir
		if out, err := git.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func writeYAML(t *testing.T, dir string, prod int, terminationWait string) {
	t.Helper()
	write(t, filepath.Join(dir, "cutover.yaml"), fmt.Sprintf(appYAML, prod, terminationWait))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func createToken(t *testing.T, st *store.Store, name, role string) string {
	t.Helper()
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateToken(t.Context(), store.Token{Name: name, Role: role, Hash: auth.Hash(tok)}); err != nil {
		t.Fatal(err)
	}
	return tok
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

// waitEnded waits for deployment id to end with status want.
func waitEnded(t *testing.T, ctx context.Context, st *store.Store, id, want string) {
	t.Helper()
	for {
		d, err := st.GetDeployment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Active() {
			if d.Status != want {
				t.Fatalf("deployment %s ended %s (%s), want %s", id, d.Status, d.Error, want)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment %s still %s at step %s, want it %s", id, d.Status, d.Step, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func newBrowser(t *testing.T, ctx context.Context, chromium string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

func do(t *testing.T, b context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b, steps...); err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, b context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// click clicks the element sel as a user would. The page re-renders
// live, so the node found may be replaced before the click reaches it;
// then the click is tried again on the new one, as a user would.
func click(t *testing.T, b context.Context, sel string) {
	t.Helper()
	var err error
	for range 20 {
		err = chromedp.Do(b, chromedp.Click(chromedp.CSS(sel)))
		if err == nil || !replaced(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}

// replaced reports whether err says the node went away between being
// found and being used.
func replaced(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "No node with given id") ||
		strings.Contains(msg, "Could not compute box model") ||
		strings.Contains(msg, "Node is detached")
}

// waitShare polls the chart's data-new-share attribute, which only the
// live stream changes, until ok accepts it.
func waitShare(t *testing.T, b context.Context, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	last := -1
	for time.Now().Before(deadline) {
		attr := run(t, b, chromedp.AttributeValue(chromedp.CSS("#traffic-chart"), "data-new-share"))
		if share, err := strconv.Atoi(attr.Value); err == nil {
			last = share
			if ok(share) {
				return share
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the chart's new share stayed at %d%%", last)
	return 0
}

func chartPoints(t *testing.T, b context.Context) string {
	t.Helper()
	return run(t, b, chromedp.AttributeValue(chromedp.CSS("#traffic-chart"), "data-points")).Value
}

// waitText waits until the element sel's text contains want.
func waitText(t *testing.T, b context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	text := ""
	for time.Now().Before(deadline) {
		text = run(t, b, chromedp.Text(chromedp.CSS(sel)))
		if strings.Contains(text, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q; it shows:\n%s", sel, want, text)
}

func screenshot(t *testing.T, b context.Context, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
	png := run(t, b, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// load sends requests to production while a deployment runs, so the
// dashboard has error rates and latencies to show, and counts failures.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	n, bad int
}

func startLoad(t *testing.T, ctx context.Context, port int) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel}
	t.Cleanup(l.stop)
	client := &http.Client{Timeout: 5 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	l.wg.Go(func() {
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if errors.Is(ctx.Err(), context.Canceled) {
				return
			}
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			l.mu.Lock()
			l.n++
			if !ok {
				l.bad++
			}
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	return l
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *load) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *load) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bad
}
