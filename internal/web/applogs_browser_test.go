package web_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/runtime/process"
	"github.com/cutover/cutover/internal/server"
	"github.com/cutover/cutover/internal/store"
)

// TestMain lets this test binary be the process runtime's log writer,
// which stamps each line of a task's output (see package
// runtime/process), as cutover's executable is.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == process.LogWriterArg {
		os.Exit(process.LogWriterMain())
	}
	os.Exit(m.Run())
}

// talkApp prints a line when it starts and what GET /say?line= asks.
const talkApp = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	fmt.Println("started", os.Getenv("CUTOVER_TASK_ID"), os.Getenv("VERSION"))
	http.HandleFunc("/say", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Query().Get("line"))
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// TestAppLogsInChromium: an app's page shows its tasks' output merged,
// each line after its task, and new lines live: those a task writes
// and those of a deployment's new tasks, without a reload.
func TestAppLogsInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
	defer cancel()

	dir := newTalkApp(t, freePort(t))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(ctx, server.Options{DataDir: filepath.Join(t.TempDir(), "data"), API: api.TCPOptions{Addr: "127.0.0.1:0"},
		InProcessDataPlane: true, TaskLogWriter: []string{exe, process.LogWriterArg}})
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
	d1, err := srv.DeployDir(ctx, api.DeployRequest{Dir: dir, Env: map[string]string{"VERSION": "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ctx, st, d1.ID, store.DeploymentSucceeded)
	tasks, err := st.ListTasks(ctx, store.TaskFilter{App: "talk", Live: true})
	if err != nil || len(tasks) != 2 {
		t.Fatalf("tasks %+v, %v; want 2", tasks, err)
	}

	b := newBrowser(t, ctx, chromium)
	do(t, b, chromedp.Navigate(base+"/apps/talk"))
	do(t, b,
		chromedp.SendKeys(chromedp.CSS("#token"), createToken(t, st, "rita", store.RoleRead)),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#app-log")),
	)
	for _, task := range tasks {
		waitText(t, b, "#app-log", task.ID+" out | started "+task.ID+" v1")
	}
	run(t, b, chromedp.Evaluate[int]("window.notReloaded = 1"))

	// Lines as the tasks write them, in that order, after their task.
	for i, line := range []string{"first live line", "second live line"} {
		task := tasks[i%2]
		resp, err := http.Get("http://" + task.Address + "/say?line=" + url.QueryEscape(line))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitText(t, b, "#app-log", task.ID+" out | "+line)
	}
	text := run(t, b, chromedp.Text(chromedp.CSS("#app-log")))
	if strings.Index(text, "first live line") > strings.Index(text, "second live line") {
		t.Errorf("the live lines are out of order:\n%s", text)
	}

	// A deployment's new tasks show up live.
	d2, err := srv.DeployDir(ctx, api.DeployRequest{Dir: dir, Env: map[string]string{"VERSION": "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ctx, st, d2.ID, store.DeploymentSucceeded)
	waitText(t, b, "#app-log", " v2")
	newTasks, _ := st.ListTasks(ctx, store.TaskFilter{App: "talk", Revision: d2.ToRevision})
	for _, task := range newTasks {
		t.Logf("task %s: %s, exit %s", task.ID, task.State, task.Exit) // shown on failure
		if task.Handle == "" {
			continue // the runtime never started it (the scheduler started another): it wrote nothing
		}
		waitText(t, b, "#app-log", task.ID+" out | started "+task.ID+" v2")
	}
	waitText(t, b, "#app-tasks", newTasks[0].ID) // the task list refreshes too
	if run(t, b, chromedp.Evaluate[int]("window.notReloaded || 0")) != 1 {
		t.Error("the page reloaded; the log should have grown in place")
	}
	screenshot(t, b, os.Getenv("CUTOVER_SCREENSHOTS"), "dashboard-app-logs.png")
}

func newTalkApp(t *testing.T, prod int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "talk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "main.go"), talkApp)
	write(t, filepath.Join(dir, "go.mod"), "module talk\n\ngo 1.22\n")
	write(t, filepath.Join(dir, "cutover.yaml"), `name: talk
service:
  runtime: process
  command: [./app]
  port: 3000
  count: 2
  stop_timeout: 2s
health: {path: /, interval: 500ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2}
listeners: {production: "127.0.0.1:`+strconv.Itoa(prod)+`"}
deploy:
  strategy: blue_green
  termination_wait: 0s
  deregistration_delay: 0s
`)
	build := exec.Command("go", "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test app: %v\n%s", err, out)
	}
	return dir
}
