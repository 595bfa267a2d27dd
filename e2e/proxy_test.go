package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backend is a real HTTP server on loopback that says its name.
func backend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(2 * time.Second)
		}
		fmt.Fprint(w, name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type lbPorts struct{ prod, test, admin int }

func writeLB(t *testing.T, path string, p lbPorts, blue, green string, blueWeight, greenWeight int) {
	t.Helper()
	cfg := fmt.Sprintf(`admin: 127.0.0.1:%d
listeners:
  - name: production
    address: 127.0.0.1:%d
    forward:
      - {target_group: blue, weight: %d}
      - {target_group: green, weight: %d}
  - name: test
    address: 127.0.0.1:%d
    forward: green
target_groups:
  - name: blue
    targets: [%q]
    deregistration_delay: 5s
    health_check: {path: /, interval: 500ms, timeout: 200ms, healthy_threshold: 2, unhealthy_threshold: 2}
  - name: green
    targets: [%q]
    deregistration_delay: 5s
    health_check: {path: /, interval: 500ms, timeout: 200ms, healthy_threshold: 2, unhealthy_threshold: 2}
`, p.admin, p.prod, blueWeight, greenWeight, p.test, blue, green)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startProxy starts `cutover proxy` on a fresh lb.yaml and waits until
// production answers from blue and test from green.
func startProxy(t *testing.T) (p *process, cfgPath string, ports lbPorts, blue, green string) {
	t.Helper()
	blue, green = backend(t, "blue"), backend(t, "green")
	ports = lbPorts{freePort(t), freePort(t), freePort(t)}
	cfgPath = filepath.Join(t.TempDir(), "lb.yaml")
	writeLB(t, cfgPath, ports, blue, green, 100, 0)
	p = start(t, "proxy", "--config", cfgPath)
	client := &http.Client{Timeout: 5 * time.Second}
	waitFor(t, "production to answer from blue", 15*time.Second, func() bool {
		code, body := get(client, fmt.Sprintf("http://127.0.0.1:%d/", ports.prod))
		return code == 200 && body == "blue"
	})
	waitFor(t, "test listener to answer from green", 15*time.Second, func() bool {
		code, body := get(client, fmt.Sprintf("http://127.0.0.1:%d/", ports.test))
		return code == 200 && body == "green"
	})
	return p, cfgPath, ports, blue, green
}

// load sends requests from several keep-alive clients until stop is
// closed, and counts failures and answers per body.
type load struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	bodies       map[string]int
	firstErr     atomic.Value
	wg           sync.WaitGroup
	stop         chan struct{}
}

func startLoad(url string, workers int) *load {
	l := &load{bodies: map[string]int{}, stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body := get(client, url)
				l.sent.Add(1)
				if code != 200 {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %s", code, body))
					continue
				}
				l.mu.Lock()
				l.bodies[body]++
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) count(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[body]
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %d requests, %d failed", l.sent.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", l.failed.Load(), l.sent.Load(), l.firstErr.Load())
	}
	if l.sent.Load() == 0 {
		t.Error("no request was sent")
	}
}

func TestProxyReloadShiftsTrafficWithoutFailures(t *testing.T) {
	p, cfgPath, ports, blue, green := startProxy(t)
	l := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ports.prod), 8)

	// Blue/green by SIGHUP: 100/0 -> 50/50 -> 0/100.
	time.Sleep(300 * time.Millisecond)
	writeLB(t, cfgPath, ports, blue, green, 50, 50)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "green to get production traffic", 10*time.Second, func() bool { return l.count("green") > 0 })

	writeLB(t, cfgPath, ports, blue, green, 0, 100)
	out, code := run(t, "proxy", "reload", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("cutover proxy reload exited %d: %s", code, out)
	}
	time.Sleep(200 * time.Millisecond)
	blueBefore := l.count("blue")
	time.Sleep(500 * time.Millisecond)
	if got := l.count("blue"); got != blueBefore {
		t.Errorf("blue still got %d requests after its weight went to 0", got-blueBefore)
	}
	l.finish(t)
}

func TestProxyBadReloadKeepsServing(t *testing.T) {
	_, cfgPath, ports, _, _ := startProxy(t)
	l := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ports.prod), 4)

	good, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), "weight: 100", "weight: 1000", 1)
	if err := os.WriteFile(cfgPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "proxy", "reload", "--admin", fmt.Sprintf("127.0.0.1:%d", ports.admin))
	if code == 0 {
		t.Fatalf("reload of a bad file exited 0: %s", out)
	}
	for _, want := range []string{"lb.yaml:6:", "listeners[0].forward[0].weight: 1000 is out of range; valid: 0-999", "keeps serving"} {
		if !strings.Contains(out, want) {
			t.Errorf("reload output lacks %q:\n%s", want, out)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if l.count("blue") == 0 {
		t.Error("production stopped answering from blue")
	}
	l.finish(t)
}

func TestProxyCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "lb.yaml")
	writeLB(t, good, lbPorts{8080, 8090, 9180}, "127.0.0.1:9001", "127.0.0.1:9002", 100, 0)
	out, code := run(t, "proxy", "check", "--config", good)
	if code != 0 || !strings.Contains(out, "OK (2 listeners, 2 target groups, 2 targets)") {
		t.Errorf("check of a good file: exit %d, %s", code, out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listeners:\n  - name: p\n    adress: :80\n"), 0o644)
	out, code = run(t, "proxy", "check", "--config", bad)
	if code == 0 {
		t.Fatalf("check of a bad file exited 0: %s", out)
	}
	if !strings.Contains(out, "bad.yaml:3:5: listeners[0].adress: unknown field; valid fields: name, address, tls, rules, forward") {
		t.Errorf("check output does not point at the unknown field:\n%s", out)
	}
}

func TestProxyPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	cfg := filepath.Join(t.TempDir(), "lb.yaml")
	writeLB(t, cfg, lbPorts{busy, freePort(t), freePort(t)}, "127.0.0.1:9001", "127.0.0.1:9002", 100, 0)
	out, code := run(t, "proxy", "--config", cfg)
	if code == 0 {
		t.Fatalf("proxy started on a port in use: %s", out)
	}
	if !strings.Contains(out, "production") || !strings.Contains(out, "address already in use") {
		t.Errorf("error does not name the listener and the cause:\n%s", out)
	}
}

func TestProxyGracefulShutdownFinishesRequests(t *testing.T) {
	p, _, ports, _, _ := startProxy(t)
	result := make(chan string, 1)
	go func() {
		code, body := get(&http.Client{Timeout: 10 * time.Second}, fmt.Sprintf("http://127.0.0.1:%d/slow", ports.prod))
		result <- fmt.Sprintf("%d %s", code, body)
	}()
	time.Sleep(500 * time.Millisecond) // let the slow request reach the backend
	p.cmd.Process.Signal(syscall.SIGTERM)
	if got := <-result; got != "200 blue" {
		t.Errorf("in-flight request during shutdown got %q, want 200 blue", got)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("cutover proxy did not exit after SIGTERM")
	}
}

// `cutover proxy upgrade` and SIGUSR2 replace the standalone load
// balancer with the binary on disk under load, without a failed request.
func TestProxyUpgradeUnderLoad(t *testing.T) {
	p, cfgPath, ports, _, _ := startProxy(t)
	current := p.cmd.Process.Pid
	t.Cleanup(func() {
		// Successors are not the test's children: stop the last one by pid.
		syscall.Kill(current, syscall.SIGTERM)
		waitFor(t, "the last proxy to exit", 30*time.Second, func() bool { return !alive(current) })
	})
	l := startStrictLoad(fmt.Sprintf("127.0.0.1:%d", ports.prod), 8)
	time.Sleep(300 * time.Millisecond)
	pidRE := regexp.MustCompile(`pid (\d+) serves now`)
	for i := range 4 {
		old := current
		if i == 3 {
			syscall.Kill(current, syscall.SIGUSR2)
			waitFor(t, "a new proxy to answer", 10*time.Second, func() bool {
				current = adminPID(ports.admin)
				return current != 0 && current != old
			})
			waitFor(t, "the old proxy to drain and exit", 10*time.Second, func() bool { return !alive(old) })
			break
		}
		out, code := run(t, "proxy", "upgrade", "--config", cfgPath)
		m := pidRE.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("cutover proxy upgrade exited %d:\n%s", code, out)
		}
		current, _ = strconv.Atoi(m[1])
		waitFor(t, "the old proxy to drain and exit", 10*time.Second, func() bool { return !alive(old) })
	}
	time.Sleep(300 * time.Millisecond)
	l.finish(t)
	out, code := run(t, "proxy", "targets", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "healthy") {
		t.Errorf("cutover proxy targets after the upgrades (exit %d):\n%s", code, out)
	}
}

// alive reports whether pid runs; a zombie (exited, not yet reaped) does
// not. The upgraded proxy's old process stays a zombie until its output
// pipe, shared with its successor, closes.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// adminPID asks a standalone proxy's admin endpoint for its pid.
func adminPID(port int) int {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", port))
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var st struct{ PID int }
	json.NewDecoder(res.Body).Decode(&st)
	return st.PID
}
