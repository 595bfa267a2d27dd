// Command grpcbench measures unary gRPC calls the way ghz does: C
// concurrent workers over a fixed number of client connections, each
// sending its next call as soon as the last one returned, for a fixed
// time. It runs its own target (grpc.testing.TestService, in a child
// process with GOMAXPROCS=1) and `cutover proxy` in front of it with a
// protocol: grpc target group, and measures the target directly and
// through cutover in one run. Each path's line also gives the CPU time
// the answering process (the target directly, cutover through it) spent
// per call, from /proc: on a shared machine it varies much less than the
// rates do; through cutover, also the target's CPU per call. It also
// gives the read and write system calls per call. The last line is
//
//	cutover/direct throughput ratio: X.XX p99 ratio: Y.YY
//
// bench/grpc.sh builds cutover and runs it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/interop/grpc_testing"
)

type options struct {
	cutover     string
	concurrency int
	connections int
	duration    time.Duration
	warmup      time.Duration
	size        int
	proxyCPU    string
	targetCPU   string
}

func main() {
	var o options
	serve := flag.String("serve", "", "run as the target on this address (internal)")
	flag.StringVar(&o.cutover, "cutover", "", "the cutover binary to run `cutover proxy` with")
	flag.IntVar(&o.concurrency, "c", 50, "concurrent workers (ghz -c)")
	flag.IntVar(&o.connections, "connections", 1, "client connections the workers share (ghz --connections)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per path (ghz -z)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured calls before each measurement")
	flag.IntVar(&o.size, "size", 64, "request payload bytes, echoed by the target")
	flag.StringVar(&o.proxyCPU, "proxy-cpu", "", "CPU list to pin cutover to with taskset (empty: no pinning)")
	flag.StringVar(&o.targetCPU, "target-cpu", "", "CPU list to pin the target to with taskset")
	flag.Parse()
	if *serve != "" {
		if err := serveTarget(*serve); err != nil {
			log.Fatal(err)
		}
		return
	}
	if o.cutover == "" {
		log.Fatal("grpcbench: -cutover is required (bench/grpc.sh builds it)")
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	const target, front, admin = "127.0.0.1:18401", "127.0.0.1:18402", "127.0.0.1:18490"
	work, err := os.MkdirTemp("", "grpcbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tgt, err := startChild(o.targetCPU, self, "-serve", target)
	if err != nil {
		return err
	}
	defer tgt.stop()
	lb := fmt.Sprintf(`admin: %s
listeners:
  - {name: grpc, address: "%s", forward: app}
target_groups:
  - name: app
    protocol: grpc
    targets: ["%s"]
    health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 2}
`, admin, front, target)
	if err := os.WriteFile(filepath.Join(work, "lb.yaml"), []byte(lb), 0o600); err != nil {
		return err
	}
	proxy, err := startChild(o.proxyCPU, o.cutover, "proxy", "--config", filepath.Join(work, "lb.yaml"), "--log-level", "warn")
	if err != nil {
		return err
	}
	defer proxy.stop()

	if err := waitServing(target, front); err != nil {
		return err
	}
	fmt.Printf("grpcbench: %d workers, %d connection(s), %s per path, %d-byte unary calls\n", o.concurrency, o.connections, o.duration, o.size)
	direct, err := measure(o, target, tgt, nil)
	if err != nil {
		return err
	}
	fmt.Println("direct:  " + direct.String())
	proxied, err := measure(o, front, proxy, &tgt)
	if err != nil {
		return err
	}
	fmt.Println("cutover: " + proxied.String())
	fmt.Printf("cutover/direct throughput ratio: %.2f p99 ratio: %.2f\n",
		proxied.rate()/direct.rate(), proxied.p(0.99).Seconds()/direct.p(0.99).Seconds())
	return nil
}

// child is a process the benchmark started.
type child struct{ cmd *exec.Cmd }

func (c child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
}

// cpuTime is the CPU time the process used so far (user and system), from
// /proc; 0 where there is no /proc. taskset execs the program, so the pid
// is the program's.
func (c child) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// syscalls is how many read and write system calls the process made so
// far (syscr and syscw of /proc/PID/io; sockets count, epoll and futex do
// not); 0, 0 where there is no /proc.
func (c child) syscalls() (reads, writes int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ": ")
		switch name {
		case "syscr":
			reads, _ = strconv.ParseInt(value, 10, 64)
		case "syscw":
			writes, _ = strconv.ParseInt(value, 10, 64)
		}
	}
	return reads, writes
}

// startChild starts a process with GOMAXPROCS=1, pinned to cpus when
// given.
func startChild(cpus, bin string, args ...string) (child, error) {
	if cpus != "" {
		args = append([]string{"-c", cpus, bin}, args...)
		bin = "taskset"
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return child{}, fmt.Errorf("starting %s: %w", bin, err)
	}
	return child{cmd}, nil
}

// waitServing waits until calls to each address succeed: the target is
// up, and cutover found it healthy.
func waitServing(addrs ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range addrs {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		client := grpc_testing.NewTestServiceClient(cc)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{})
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				cc.Close()
				return fmt.Errorf("%s does not answer: %w", addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		cc.Close()
	}
	return nil
}

// result is one measurement.
type result struct {
	calls, errors int
	elapsed       time.Duration
	latencies     []time.Duration // sorted
	firstErr      error
	// serverCPU is the CPU time of the process answering the calls (the
	// target directly, or cutover) while they ran; 0 if unknown.
	serverCPU time.Duration
	// serverReads and serverWrites count its read and write system calls
	// meanwhile.
	serverReads, serverWrites int64
	// targetCPU is the CPU time of the target behind cutover; 0 on the
	// direct path or if unknown.
	targetCPU time.Duration
}

func (r result) rate() float64 { return float64(r.calls) / r.elapsed.Seconds() }

func (r result) p(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

func (r result) String() string {
	s := fmt.Sprintf("%d calls, %.0f calls/s, p50 %.2f ms, p99 %.2f ms, %d errors",
		r.calls, r.rate(), ms(r.p(0.5)), ms(r.p(0.99)), r.errors)
	if r.serverCPU > 0 && r.calls > 0 {
		s += fmt.Sprintf(", %.1f µs server CPU per call", float64(r.serverCPU.Microseconds())/float64(r.calls))
	}
	if r.targetCPU > 0 && r.calls > 0 {
		s += fmt.Sprintf(", %.1f µs target CPU per call", float64(r.targetCPU.Microseconds())/float64(r.calls))
	}
	if r.serverReads+r.serverWrites > 0 && r.calls > 0 {
		s += fmt.Sprintf(", %.2f reads and %.2f writes per call", float64(r.serverReads)/float64(r.calls), float64(r.serverWrites)/float64(r.calls))
	}
	if r.firstErr != nil {
		s += fmt.Sprintf(" (first: %v)", r.firstErr)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measure runs the workers against addr for the warm-up, then for the
// measured duration, and notes the CPU time server used meanwhile, and
// that of behind, the target behind server, when not nil.
func measure(o options, addr string, server child, behind *child) (result, error) {
	var clients []grpc_testing.TestServiceClient
	for range o.connections {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return result{}, err
		}
		defer cc.Close()
		clients = append(clients, grpc_testing.NewTestServiceClient(cc))
	}
	req := &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: make([]byte, o.size)}}
	load(clients, req, o.concurrency, o.warmup)
	cpu := server.cpuTime()
	var behindCPU time.Duration
	if behind != nil {
		behindCPU = behind.cpuTime()
	}
	reads, writes := server.syscalls()
	r := load(clients, req, o.concurrency, o.duration)
	r.serverCPU = server.cpuTime() - cpu
	if behind != nil {
		r.targetCPU = behind.cpuTime() - behindCPU
	}
	reads2, writes2 := server.syscalls()
	r.serverReads, r.serverWrites = reads2-reads, writes2-writes
	return r, nil
}

// load runs workers for d and collects every call's latency. The calls
// carry no deadline (a deadline would travel as grpc-timeout, and the
// calls cut by its end would count as errors); the last ones are
// cancelled.
func load(clients []grpc_testing.TestServiceClient, req *grpc_testing.SimpleRequest, workers int, d time.Duration) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(d, cancel).Stop()
	var mu sync.Mutex
	var r result
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		client := clients[i%len(clients)]
		wg.Go(func() {
			var lat []time.Duration
			var errs int
			var first error
			for ctx.Err() == nil {
				t0 := time.Now()
				_, err := client.UnaryCall(ctx, req)
				if err != nil {
					if ctx.Err() == nil {
						errs++
						first = cmp(first, err)
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			r.latencies = append(r.latencies, lat...)
			r.errors += errs
			r.firstErr = cmp(r.firstErr, first)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.calls = len(r.latencies)
	slices.Sort(r.latencies)
	return r
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// target is the benchmark's gRPC server: UnaryCall echoes the payload.
type target struct {
	grpc_testing.UnimplementedTestServiceServer
}

func (target) UnaryCall(_ context.Context, req *grpc_testing.SimpleRequest) (*grpc_testing.SimpleResponse, error) {
	return &grpc_testing.SimpleResponse{Payload: req.Payload}, nil
}

func serveTarget(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	grpc_testing.RegisterTestServiceServer(srv, target{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
