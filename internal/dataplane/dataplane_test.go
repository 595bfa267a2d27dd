package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
)

// runDataPlane runs a data plane on dir until the test ends.
func runDataPlane(t *testing.T, dir string, takeover bool) (stop func(), done chan error) {
	t.Helper()
	s, err := start(t.Context(), Options{DataDir: dir, TakeOver: takeover})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		done <- s.wait(ctx)
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return cancel, done
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func config(listen string, targets ...string) proxy.Config {
	return proxy.Config{
		Listeners: []proxy.ListenerConfig{{Name: "production", Address: listen,
			Default: proxy.ForwardConfig{TargetGroups: []proxy.WeightedTargetGroup{{Name: "app", Weight: 1}}}}},
		TargetGroups: []proxy.TargetGroupConfig{{Name: "app", Targets: targets,
			HealthCheck: health.Config{Disabled: true}, DeregistrationDelay: time.Second}},
	}
}

func backend(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func body(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func TestPushesAreVersionedAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	runDataPlane(t, dir, false)
	c := NewClient(filepath.Join(dir, SocketName))
	listen := freeAddr(t)
	one, two := backend(t, "one"), backend(t, "two")
	ctx := t.Context()

	steps := []struct {
		name    string
		push    Push
		wantErr error // nil, errStale, or errRefused for any other refusal
		serves  string
	}{
		{"first", Push{Version: 1, Config: config(listen, one)}, nil, "one"},
		{"retry of the same version", Push{Version: 1, Config: config(listen, one)}, nil, "one"},
		{"older version, other config", Push{Version: 1, Config: config(listen, two)}, errStale, "one"},
		{"invalid config", Push{Version: 2, Config: config("not an address", two)}, errRefused, "one"},
		{"newer version", Push{Version: 3, Config: config(listen, two)}, nil, "two"},
	}
	for _, s := range steps {
		ack, err := c.Push(ctx, s.push)
		switch {
		case s.wantErr == nil && err != nil:
			t.Errorf("%s: %v", s.name, err)
		case s.wantErr == errStale && !errors.Is(err, errStale):
			t.Errorf("%s: %v, want a stale refusal", s.name, err)
		case s.wantErr == errRefused && (err == nil || errors.Is(err, errStale) || errors.Is(err, errUnavailable)):
			t.Errorf("%s: %v, want a refusal with the reason", s.name, err)
		case s.wantErr == nil && ack.Listeners["production"] != listen:
			t.Errorf("%s: ack %+v lacks the listener's address", s.name, ack)
		}
		if got := body(t, "http://"+listen+"/"); got != s.serves {
			t.Errorf("%s: production answers %q, want %q", s.name, got, s.serves)
		}
	}
	st, err := c.Status(ctx)
	if err != nil || st.Version != 3 {
		t.Errorf("status: %+v, %v; want version 3", st, err)
	}
	fi, err := os.Stat(filepath.Join(dir, stateName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", stateName, fi.Mode(), err)
	}
}

var errRefused = errors.New("refused")

func TestHandOverKeepsServingAndTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	_, oldDone := runDataPlane(t, dir, false)
	c := NewClient(filepath.Join(dir, SocketName))
	listen := freeAddr(t)
	if _, err := c.Push(t.Context(), Push{Version: 7, Config: config(listen, backend(t, "one"))}); err != nil {
		t.Fatal(err)
	}
	runDataPlane(t, dir, true)
	if !oldExited(t, oldDone) {
		t.FailNow()
	}
	c.CloseIdleConnections()
	st, err := c.Status(t.Context())
	if err != nil || st.Version != 7 || st.Listeners["production"] != listen {
		t.Fatalf("status after the hand-over: %+v, %v", st, err)
	}
	for i := range 5 {
		if got := body(t, "http://"+listen+"/"); got != "one" {
			t.Fatalf("request %d after the hand-over: %q", i, got)
		}
	}
	if _, err := c.Push(t.Context(), Push{Version: 7, Config: config(listen, backend(t, "two"))}); !errors.Is(err, errStale) {
		t.Errorf("the successor took a stale push: %v", err)
	}
}

// oldExited waits for the data plane handed over from to end, and says
// whether it did; it reports an error when it ended with one or did not
// end within 10 s.
func oldExited(t *testing.T, done <-chan error) bool {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the old data plane ended with %v", err)
		}
		return true
	case <-time.After(10 * time.Second):
		t.Error("the old data plane did not exit after the hand-over")
		return false
	}
}

func TestSecondDataPlaneOnADirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	runDataPlane(t, dir, false)
	_, err := start(t.Context(), Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d) already serves", os.Getpid())) {
		t.Errorf("a second data plane on the same directory: %v", err)
	}
}
