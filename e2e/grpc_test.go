package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/interop/grpc_testing"
)

// TestGRPCAppDeploysUnderLoad: a gRPC app (service.protocol: grpc, its
// health checked with grpc.health.v1) deployed twice by cutover under
// constant gRPC load through the production listener. Not one call
// fails, and each version serves in turn.
func TestGRPCAppDeploysUnderLoad(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { checkNoTasksLeft(t, data) })
	dir := filepath.Join(t.TempDir(), "grpcapp")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "grpcapp"), "./testdata/grpcapp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/grpcapp: %v\n%s", err, out)
	}
	prod := freePort(t)
	writeFile(t, filepath.Join(dir, "cutover.yaml"), fmt.Sprintf(`name: grpcapp
service:
  command: [./grpcapp]
  port: 3000
  protocol: grpc
  count: 2
  stop_timeout: 5s
health: {interval: 500ms, timeout: 400ms, healthy_threshold: 2, unhealthy_threshold: 2}
listeners: {production: "127.0.0.1:%d", test: "127.0.0.1:%d"}
deploy:
  traffic: {type: linear, percent: 50, interval: 1s}
  termination_wait: 1s
  deregistration_delay: 2s
  progress_deadline: 30s
`, prod, freePort(t)))
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	start(t, "up", "--data", data, "--api-addr", "")
	waitFor(t, "cutover to answer", 30*time.Second, func() bool {
		_, code := run(t, "apps", "--data", data)
		return code == 0
	})
	deploy := func(version string) {
		t.Helper()
		out, code := run(t, "deploy", dir, "--data", data, "--env", "APP_VERSION="+version)
		if code != 0 {
			t.Fatalf("deploying version %s: exit %d\n%s", version, code, out)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", prod)
	deploy("1")
	waitVersion(t, addr, "1")

	l := startGRPCLoad(t, addr, 8)
	deploy("2")
	waitVersion(t, addr, "2")
	deploy("3")
	waitVersion(t, addr, "3")
	l.finish(t)
	for _, v := range []string{"1", "2", "3"} {
		if l.served(v) == 0 {
			t.Errorf("no call of the load was served by version %s", v)
		}
	}
}

// waitVersion waits until a unary call through addr is answered by
// version.
func waitVersion(t *testing.T, addr, version string) {
	t.Helper()
	client := grpcClient(t, addr)
	waitFor(t, "version "+version+" to answer", 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{})
		return err == nil && res.ServerId == version
	})
}

func grpcClient(t *testing.T, addr string) grpc_testing.TestServiceClient {
	t.Helper()
	// No retries: a call that fails must count.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDisableRetry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return grpc_testing.NewTestServiceClient(cc)
}

// grpcLoad sends unary calls from workers until finish, over two client
// connections, and counts the calls that fail and who served the rest.
type grpcLoad struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	sent   atomic.Int64
	failed atomic.Int64
	first  atomic.Value // string
	mu     sync.Mutex
	by     map[string]int
}

func startGRPCLoad(t *testing.T, addr string, workers int) *grpcLoad {
	l := &grpcLoad{stop: make(chan struct{}), by: map[string]int{}}
	clients := []grpc_testing.TestServiceClient{grpcClient(t, addr), grpcClient(t, addr)}
	for i := range workers {
		client := clients[i%len(clients)]
		l.wg.Go(func() {
			req := &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: []byte("ping")}}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := client.UnaryCall(ctx, req)
				cancel()
				l.sent.Add(1)
				if err != nil || string(res.Payload.GetBody()) != "ping" {
					l.failed.Add(1)
					l.first.CompareAndSwap(nil, fmt.Sprintf("%v", err))
					continue
				}
				l.mu.Lock()
				l.by[res.ServerId]++
				l.mu.Unlock()
				time.Sleep(2 * time.Millisecond) // leave the CPUs to the deploys
			}
		})
	}
	return l
}

func (l *grpcLoad) served(version string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[version]
}

// finish stops the load and fails the test on any failed call.
func (l *grpcLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("gRPC load: %d calls, %d failed, served by version: %v", l.sent.Load(), l.failed.Load(), l.by)
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d of %d calls failed; first: %v", n, l.sent.Load(), l.first.Load())
	}
	if l.sent.Load() == 0 {
		t.Error("no call was sent")
	}
}
