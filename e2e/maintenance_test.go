package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const maintenancePage = "<!doctype html><title>hello is down</title><h1>Planned maintenance</h1><p>Back at 10:00 UTC.</p>\n"

// maintLoad is strictLoad's kind of closed-loop HTTP/1.1 load, for a
// listener that may answer 503 on purpose: each worker keeps one
// connection and sorts every response by what the test expected when
// the request was sent (want: 200 from the app, or 503 with the page).
// Connection errors are counted apart from statuses, and so are dials,
// so the test sees whether a switch dropped a connection.
type maintLoad struct {
	addr       string
	want       atomic.Int32 // 0: either answer; 200 or 503
	stop       chan struct{}
	wg         sync.WaitGroup
	sent       atomic.Int64
	ok, maint  atomic.Int64 // 200 from the app; 503 with the page and Retry-After: 120
	wrong      atomic.Int64 // an answer the expected state does not give
	socketErrs atomic.Int64
	dials      atomic.Int64
	mu         sync.Mutex
	firstWrong string
}

func startMaintLoad(addr string, workers int) *maintLoad {
	l := &maintLoad{addr: addr, stop: make(chan struct{})}
	for range workers {
		l.wg.Go(l.worker)
	}
	return l
}

func (l *maintLoad) worker() {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
			if err != nil {
				l.fail(&l.socketErrs, "connect: "+err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			l.dials.Add(1)
			conn, br = c, bufio.NewReader(c)
		}
		closeAfter, err := l.exchange(conn, br)
		if err != nil {
			conn.Close()
			conn = nil
			l.fail(&l.socketErrs, err.Error())
			continue
		}
		if closeAfter {
			conn.Close()
			conn = nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (l *maintLoad) exchange(conn net.Conn, br *bufio.Reader) (closeAfter bool, err error) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	want := l.want.Load()
	l.sent.Add(1)
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: e2e\r\nUser-Agent: maint-load\r\n\r\n"); err != nil {
		return false, fmt.Errorf("writing: %w", err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, fmt.Errorf("reading the response: %w", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return false, fmt.Errorf("reading the body: %w", err)
	}
	isMaint := res.StatusCode == 503 && string(body) == maintenancePage && res.Header.Get("Retry-After") == "120"
	switch {
	case res.StatusCode == 200 && want != 503:
		l.ok.Add(1)
	case isMaint && want != 200:
		l.maint.Add(1)
	default:
		l.fail(&l.wrong, fmt.Sprintf("want %d, got %s Retry-After %q: %.80q", want, res.Status, res.Header.Get("Retry-After"), body))
	}
	return res.Close, nil
}

func (l *maintLoad) fail(counter *atomic.Int64, what string) {
	counter.Add(1)
	l.mu.Lock()
	if l.firstWrong == "" {
		l.firstWrong = what
	}
	l.mu.Unlock()
}

func (l *maintLoad) String() string {
	return fmt.Sprintf("%d requests: %d 200, %d 503 maintenance, %d wrong, %d connection errors, %d connections opened",
		l.sent.Load(), l.ok.Load(), l.maint.Load(), l.wrong.Load(), l.socketErrs.Load(), l.dials.Load())
}

// waitSent waits until the load has sent n more requests.
func (l *maintLoad) waitSent(t *testing.T, n int64) {
	t.Helper()
	target := l.sent.Load() + n
	waitFor(t, fmt.Sprintf("%d more requests", n), 30*time.Second, func() bool { return l.sent.Load() >= target })
}

// healthChecks counts the health checks a task's log records (the test's
// copy of hello-node logs each).
func (a *helloApp) healthChecks(t *testing.T, task string) int {
	t.Helper()
	out, _ := run(t, "logs", task, "--data", a.data)
	return strings.Count(out, "health check /status")
}

// TestMaintenanceUnderLoad turns maintenance mode on and off with
// `cutover maintenance` under keep-alive load: once on, every request
// gets 503 with the page and Retry-After while the tasks keep being
// health-checked; a deployment completes and stays in maintenance; the
// mode survives a restart of cutover, `cutover upgrade` and a crash of
// the data plane; off serves the new version at once. No connection is
// dropped, and the switches open no new connection. Bad input is
// refused with a clear error and changes nothing.
func TestMaintenanceUnderLoad(t *testing.T) {
	a := newHelloApp(t, nil)
	appJS := filepath.Join(a.dir, "app.js")
	writeFile(t, appJS, strings.Replace(readFile(t, appJS), "      case '/health':\n",
		"      case '/health':\n        console.log('health check ' + path);\n", 1))
	page := filepath.Join(t.TempDir(), "page.html")
	writeFile(t, page, maintenancePage)
	p := a.up(t, "1.0.0")

	a.checkMaintenanceRefusals(t)

	l := startMaintLoad(a.prodAddr(), 8)
	l.want.Store(200)
	l.waitSent(t, 200)
	dials := l.dials.Load()
	l.want.Store(0) // while the switch is under way, either answer is right
	out, code := run(t, "maintenance", "on", "hello", "--page", page, "--retry-after", "120", "--data", a.data)
	if code != 0 || !strings.Contains(out, "hello: maintenance on since") || !strings.Contains(out, fmt.Sprintf("503 with a %d-byte page, Retry-After: 120", len(maintenancePage))) {
		t.Fatalf("cutover maintenance on: exit %d\n%s", code, out)
	}
	l.want.Store(503)
	l.waitSent(t, 500)
	if n := l.dials.Load(); n != dials {
		t.Errorf("turning maintenance on opened %d new connections; keep-alive ones should carry on", n-dials)
	}
	if out, _ := run(t, "maintenance", "status", "hello", "--data", a.data); !strings.Contains(out, "maintenance on") {
		t.Errorf("cutover maintenance status:\n%s", out)
	}
	if out, _ := run(t, "status", "--data", a.data); !strings.Contains(out, "maintenance: 503 since") {
		t.Errorf("cutover status does not show maintenance:\n%s", out)
	}

	// The tasks are still health-checked.
	var task string
	for id := range a.taskIDs(t) {
		task = id
	}
	before := a.healthChecks(t, task)
	waitFor(t, "task "+task+" to get health checks in maintenance", 20*time.Second, func() bool {
		return a.healthChecks(t, task) >= before+3
	})

	// A deployment completes, its new tasks health-checked, and stays in
	// maintenance; its smoke test used the test listener.
	pkg := filepath.Join(a.dir, "package.json")
	writeFile(t, pkg, strings.Replace(readFile(t, pkg), `"version": "1.0.0"`, `"version": "2.0.0"`, 1))
	if out, code := a.deploy(t); code != 0 || !strings.Contains(out, "Succeeded") {
		t.Fatalf("deploy in maintenance: exit %d\n%s", code, out)
	}
	l.waitSent(t, 200)

	// A restart of cutover, then an upgrade: still in maintenance.
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p = start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	a.waitAPI(t)
	l.waitSent(t, 200)
	if out, code := run(t, "upgrade", "--data", a.data); code != 0 {
		t.Fatalf("cutover upgrade: exit %d\n%s", code, out)
	}
	a.waitAPI(t)
	l.waitSent(t, 200)

	dials = l.dials.Load()
	l.want.Store(0)
	if out, code := run(t, "maintenance", "off", "hello", "--data", a.data); code != 0 || !strings.Contains(out, "maintenance off") {
		t.Fatalf("cutover maintenance off: exit %d\n%s", code, out)
	}
	l.want.Store(200)
	l.waitSent(t, 500)
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %s", l)
	if n := l.dials.Load(); n != dials {
		t.Errorf("turning maintenance off opened %d new connections; keep-alive ones should carry on", n-dials)
	}
	if l.wrong.Load() != 0 || l.socketErrs.Load() != 0 {
		t.Errorf("%d wrong answers and %d connection errors; first: %s", l.wrong.Load(), l.socketErrs.Load(), l.firstWrong)
	}
	if l.maint.Load() < 500 || l.ok.Load() < 500 {
		t.Errorf("the load saw %d maintenance answers and %d 200s, want 500 of each at least", l.maint.Load(), l.ok.Load())
	}
	a.waitVersion(t, "2.0.0", time.Second)

	a.checkDataPlaneCrashKeepsMaintenance(t)
	a.checkMaintenanceEvents(t)
}

// checkMaintenanceRefusals runs bad `cutover maintenance` commands: each
// exits non-zero saying what is wrong, and production still serves.
func (a *helloApp) checkMaintenanceRefusals(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.html")
	writeFile(t, big, strings.Repeat("x", 1<<20+1))
	empty := filepath.Join(dir, "empty.html")
	writeFile(t, empty, "")
	binary := filepath.Join(dir, "binary.html")
	if err := os.WriteFile(binary, []byte{0xff, 0xfe, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"on", "nope"}, "app nope: not found"},
		{[]string{"on", "hello", "--page", filepath.Join(dir, "missing.html")}, "missing.html: no such file or directory"},
		{[]string{"on", "hello", "--page", big}, "over 1048576 bytes; valid: a page of at most 1 MiB"},
		{[]string{"on", "hello", "--page", empty}, "the file is empty"},
		{[]string{"on", "hello", "--page", binary}, "not UTF-8 text"},
		{[]string{"on", "hello", "--retry-after", "0"}, "--retry-after 0: out of range; valid: 1-86400 seconds"},
		{[]string{"on", "hello", "--retry-after", "86401"}, "out of range; valid: 1-86400 seconds"},
		{[]string{"on", "hello", "--retry-after", "5m"}, `invalid argument "5m" for "--retry-after"`},
		{[]string{"off", "nope"}, "app nope: not found"},
		{[]string{"status", "nope"}, "app nope: not found"},
		{[]string{"on"}, "accepts 1 arg(s), received 0"},
	} {
		out, code := run(t, append(append([]string{"maintenance"}, bad.args...), "--data", a.data)...)
		if code == 0 || !strings.Contains(out, bad.want) {
			t.Errorf("cutover maintenance %s: exit %d, want an error containing %q:\n%s", strings.Join(bad.args, " "), code, bad.want, out)
		}
	}
	// The API checks what the CLI checks, for other clients.
	api := unixClient(filepath.Join(a.data, "cutover.sock"))
	for _, bad := range []struct{ body, want string }{
		{`{"retry_after": 0}`, "retry_after 0 is out of range; valid: 1-86400 seconds"},
		{`{"page": "` + strings.Repeat("x", 1<<20+1) + `"}`, "1048577 bytes; valid: at most 1048576 (1 MiB)"},
		{`{"page": "x", "retry": 60}`, `unknown field \"retry\"`},
	} {
		resp, err := api.Post("http://cutover/api/v1/apps/hello/maintenance", "application/json", strings.NewReader(bad.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), bad.want) {
			t.Errorf("POST %.40s: %s %s, want 400 saying %q", bad.body, resp.Status, body, bad.want)
		}
	}
	if out, _ := run(t, "maintenance", "status", "hello", "--data", a.data); !strings.Contains(out, "maintenance off") {
		t.Errorf("after refused commands:\n%s", out)
	}
	a.waitVersion(t, "1.0.0", time.Second)
}

// checkDataPlaneCrashKeepsMaintenance turns maintenance on, kills the
// data plane, and finds the restarted one still answering 503: it serves
// the configuration it kept. Then off again.
func (a *helloApp) checkDataPlaneCrashKeepsMaintenance(t *testing.T) {
	t.Helper()
	if out, code := run(t, "maintenance", "on", "hello", "--data", a.data); code != 0 || !strings.Contains(out, "the default page, Retry-After: 300") {
		t.Fatalf("cutover maintenance on: exit %d\n%s", code, out)
	}
	old := dataPlanePID(t, a.data)
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, "a new data plane", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(a.data, "dataplane.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid != 0 && pid != old && syscall.Kill(pid, 0) == nil
	})
	client := newClient()
	waitFor(t, "the new data plane to answer", 10*time.Second, func() bool {
		code, _ := get(client, a.url())
		return code != 0
	})
	for range 20 {
		if code, body := get(client, a.url()); code != 503 || !strings.Contains(body, "hello is down for maintenance") {
			t.Fatalf("after a crash of the data plane: %d %q, want 503 with the default page", code, body)
		}
	}
	if _, code := run(t, "maintenance", "off", "hello", "--data", a.data); code != 0 {
		t.Fatal("cutover maintenance off failed")
	}
	a.waitVersion(t, "2.0.0", time.Second)
}

// checkMaintenanceEvents finds the switches in the event log, and the
// page size but not the page in it.
func (a *helloApp) checkMaintenanceEvents(t *testing.T) {
	t.Helper()
	var on, off int
	var sizes []int
	var data strings.Builder
	for after := int64(0); ; {
		var page []struct {
			ID   int64
			Type string
			Data json.RawMessage
		}
		if err := apiGet(a.data, fmt.Sprintf("/api/v1/events?app=hello&after=%d", after), &page); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			after = e.ID
			switch e.Type {
			case "app.maintenance_on":
				on++
				var ch struct {
					PageBytes int `json:"page_bytes"`
				}
				json.Unmarshal(e.Data, &ch)
				sizes = append(sizes, ch.PageBytes)
			case "app.maintenance_off":
				off++
			}
			data.Write(e.Data)
		}
	}
	if on != 2 || off != 2 {
		t.Errorf("events: %d app.maintenance_on and %d app.maintenance_off, want 2 and 2", on, off)
	}
	if strings.Contains(data.String(), "Planned maintenance") {
		t.Error("the event log holds the page")
	}
	if len(sizes) == 0 || sizes[0] != len(maintenancePage) {
		t.Errorf("app.maintenance_on events give page sizes %v, want %d first", sizes, len(maintenancePage))
	}
}
