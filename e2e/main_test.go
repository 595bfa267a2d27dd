// Package e2e drives the built cutover binary the way a user does: it
// builds it once, starts it as a separate process with real files, and
// talks to it over real sockets on loopback.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cutoverBin is the binary under test, built by TestMain.
var cutoverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cutover-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cutoverBin = filepath.Join(dir, "cutover")
	build := exec.Command("go", "build", "-race", "-o", cutoverBin, "../cmd/cutover")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building cutover:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// nextPort hands out ports from 20000-28999, below the ephemeral range
// (32768+): cutover binds its listeners again after a restart, and an
// ephemeral port may meanwhile have become some client connection's
// local port. Each test binary starts at a random point of the range.
var nextPort atomic.Int32

func init() { nextPort.Store(int32(rand.IntN(9000))) }

// freePort returns a loopback port below the ephemeral range that was
// free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	for range 9000 {
		port := 20000 + int(nextPort.Add(1))%9000
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port in 20000-28999")
	return 0
}

// process is a running cutover command with its combined output.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs cutover with args in the background; the test stops it.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	return startBin(t, cutoverBin, args...)
}

// startBin is start with another cutover binary.
func startBin(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		// SIGINT: cutover stops its tasks too (SIGTERM would leave them
		// running for the next cutover to adopt).
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(60 * time.Second):
			t.Errorf("cutover %s did not stop within 60s of SIGINT; killed", strings.Join(args, " "))
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("cutover %s output:\n%s", strings.Join(args, " "), p.output())
		}
	})
	return p
}

// run runs cutover to completion and returns its output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cutoverBin, args...).CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("running cutover %v: %v", args, err)
	}
	return string(out), 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches url and returns status and body; errors are status 0.
func get(client *http.Client, url string) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(body)
}
