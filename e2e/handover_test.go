package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A WebSocket and a long stream opened before a hand-over of the data
// plane (`cutover upgrade`) keep working on the old data plane after it,
// until the drain limit (the deregistration delay, 4s here), while new
// connections go to the new data plane.
func TestDataPlaneHandOverKeepsWebSocketsAndStreams(t *testing.T) {
	const drainLimit = 4 * time.Second
	dir := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { checkNoTasksLeft(t, data) })
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "web"), "./testdata/web")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test app: %v\n%s", err, out)
	}
	prod := freePort(t)
	writeFile(t, filepath.Join(dir, "cutover.yaml"), fmt.Sprintf(`name: longconn
service:
  runtime: process
  command: [./web]
  port: 8080
  count: 2
  env: {VERSION: "1"}
  stop_timeout: 5s
health: {path: /status, interval: 1s, timeout: 500ms, healthy_threshold: 2}
listeners: {production: "127.0.0.1:%d"}
deploy:
  deregistration_delay: %s
`, prod, drainLimit))
	start(t, "up", dir, "--data", data, "--api-addr", "")
	base := fmt.Sprintf("127.0.0.1:%d", prod)
	waitFor(t, "the app to answer", 60*time.Second, func() bool {
		code, _ := get(newClient(), "http://"+base+"/")
		return code == 200
	})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+base+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	echo(ctx, t, ws, "before")
	res, err := http.Get("http://" + base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	ticks := bufio.NewReader(res.Body)
	readTick(t, ticks)

	// The old data plane starts draining during the upgrade, so the
	// WebSocket must stay open at least the drain limit from its start.
	upgrading := time.Now()
	out, code := run(t, "upgrade", "--data", data)
	if code != 0 {
		t.Fatalf("cutover upgrade exited %d:\n%s", code, out)
	}
	for i := range 3 {
		code, _ := get(newClient(), "http://"+base+"/")
		if code != 200 {
			t.Fatalf("a new connection after the hand-over got %d", code)
		}
		echo(ctx, t, ws, fmt.Sprintf("after %d", i))
		readTick(t, ticks)
		time.Sleep(500 * time.Millisecond)
	}
	// At the drain limit the old data plane cuts what is left and exits.
	_, _, err = ws.Read(ctx)
	open := time.Since(upgrading)
	if err == nil {
		t.Fatal("the WebSocket got a message nobody sent")
	}
	t.Logf("the WebSocket stayed open %s after the upgrade began (drain limit %s)", open.Round(10*time.Millisecond), drainLimit)
	if open < drainLimit || open > drainLimit+5*time.Second {
		t.Errorf("the WebSocket closed %s after the upgrade began; want the drain limit, %s, and a little more", open, drainLimit)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := ticks.ReadString('\n'); err != nil {
			break
		}
	}
	if time.Now().After(deadline) {
		t.Error("the stream kept running past the drain limit")
	}
}

func echo(ctx context.Context, t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("WebSocket write %q: %v", msg, err)
	}
	_, got, err := ws.Read(ctx)
	if err != nil || string(got) != msg {
		t.Fatalf("WebSocket echo of %q: %q, %v", msg, got, err)
	}
}

func readTick(t *testing.T, r *bufio.Reader) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "tick ") {
		t.Fatalf("reading the stream: %q, %v", line, err)
	}
}
