package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/cutover/cutover/internal/runtime"
)

// bins are the test programs in testdata, built once by TestMain.
var bins struct {
	httpapp string // HTTP server on $PORT, graceful on SIGTERM
	exiter  string // prints lines, waits, exits with a code
}

// TestMain builds the test programs and fails the run if any test leaves a
// goroutine behind.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == LogWriterArg {
		os.Exit(LogWriterMain())
	}
	if dir := os.Getenv("PROCESS_TEST_FAKE_CUTOVER"); dir != "" {
		os.Exit(fakeCutover(dir, os.Getenv("PROCESS_TEST_APP")))
	}
	os.Exit(runTests(m))
}

// fakeCutover plays a cutover process for TestTaskSurvivesCutoverKill: it
// starts app as task web-1, reports its pid and waits to be killed.
func fakeCutover(dir, app string) int {
	d, err := New(Options{StateDir: dir, StartCheck: 200 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	spec := runtime.TaskSpec{ID: "web-1", Command: []string{app}, Dir: dir}
	task, err := d.Start(context.Background(), spec)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("started %d\n", task.PID)
	time.Sleep(time.Minute)
	return 0
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "process-driver-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, dst := range map[string]*string{"httpapp": &bins.httpapp, "exiter": &bins.exiter} {
		*dst = filepath.Join(dir, name)
		out, err := exec.Command(goTool(), "build", "-o", *dst, "./testdata/"+name).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building testdata/%s: %v\n%s", name, err, out)
			return 1
		}
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			return 1
		}
	}
	return code
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(goruntime.GOROOT(), "bin", "go")
}

// newDriver returns a driver on a fresh state directory (unless opts has
// one), closed when the test ends.
func newDriver(t *testing.T, opts Options) *Driver {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.StartCheck == 0 {
		opts.StartCheck = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	if opts.LogWriter == nil { // []string{}: none
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		opts.LogWriter = []string{exe, LogWriterArg}
	}
	d, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		d.Close()
		awaitLogWriters(t, d)
	})
	return d
}

// awaitLogWriters waits until the log writers of d's tasks have ended,
// which they do once their tasks have: a slow one would show as a leaked
// goroutine.
func awaitLogWriters(t *testing.T, d *Driver) {
	d.mu.Lock()
	var writers []<-chan struct{}
	for _, task := range d.tasks {
		if task.outputDone != nil && task.st.Exit != nil {
			writers = append(writers, task.outputDone)
		}
	}
	d.mu.Unlock()
	for _, done := range writers {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("a task's log writer runs on 10s after its task ended")
		}
	}
}

// appSpec is a spec running httpapp with args.
func appSpec(t *testing.T, id string, args ...string) runtime.TaskSpec {
	return runtime.TaskSpec{
		ID:          id,
		App:         "hello",
		Revision:    "r1",
		Command:     append([]string{bins.httpapp}, args...),
		Dir:         t.TempDir(),
		StopTimeout: 5 * time.Second,
	}
}

// exiterSpec is a spec running exiter with args.
func exiterSpec(t *testing.T, id string, args ...string) runtime.TaskSpec {
	return runtime.TaskSpec{
		ID:      id,
		Command: append([]string{bins.exiter}, args...),
		Dir:     t.TempDir(),
	}
}

// start starts spec and makes sure its processes are gone when the test
// ends.
func start(t *testing.T, d *Driver, spec runtime.TaskSpec) runtime.Task {
	t.Helper()
	task, err := d.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start(%s): %v", spec.ID, err)
	}
	trackProcess(t, task.PID)
	return task
}

// trackProcess fails the test if process pid (or its group) still runs
// when the test ends, and kills it.
func trackProcess(t *testing.T, pid int) {
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for processRunning(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processRunning(pid) {
			t.Errorf("process %d still runs after the test; killing it", pid)
			unix.Kill(-pid, unix.SIGKILL)
			unix.Kill(pid, unix.SIGKILL)
		}
	})
}

// processRunning reports whether pid exists and is not a zombie.
func processRunning(pid int) bool {
	st, err := readProcStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

// waitGone waits until process pid has ended.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for processRunning(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForLog waits until the task's log file contains want and returns
// the log.
func waitForLog(t *testing.T, d *Driver, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(logPath(d.opts.StateDir, id))
		if text := plainText(t, data); strings.Contains(text, want) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s does not show %q; it is:\n%s", id, want, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// plainText is the task's output in the log file data.
func plainText(t *testing.T, data []byte) string {
	t.Helper()
	var out strings.Builder
	w := newLogText(&out, runtime.LogOptions{}, time.Now)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	w.flush()
	return out.String()
}

// get does GET http://addr/path without keeping connections alive.
func get(ctx context.Context, addr, path string) (string, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(body), nil
}

// mustGet is get, failing the test on an error.
//
// A task counts as started once it has run for StartCheck, which on a
// busy machine can come before its server listens: a refused connection
// is tried again for up to 10 s.
func mustGet(t *testing.T, addr, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := get(t.Context(), addr, path)
		if err == nil {
			return body
		}
		if !errors.Is(err, unix.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatalf("GET http://%s%s: %v", addr, path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childPID returns the pid httpapp -child printed for its child.
func childPID(t *testing.T, d *Driver, id string) int {
	t.Helper()
	log := waitForLog(t, d, id, "child pid ")
	var pid int
	_, after, _ := strings.Cut(log, "child pid ")
	if _, err := fmt.Sscanf(after, "%d", &pid); err != nil {
		t.Fatalf("no child pid in log: %v", err)
	}
	return pid
}
