package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cutover/cutover/internal/testcert"
)

// testService is a gRPC target: grpc.testing.TestService on 127.0.0.1.
// Every response names the server (header x-server) and carries trailers
// (x-trailer, and x-deadline-ms: the deadline the server saw, -1 if
// none). StreamingOutputCall blocks after its first message while hold
// is open.
type testService struct {
	grpc_testing.UnimplementedTestServiceServer
	name  string
	addr  string
	srv   *grpc.Server
	calls atomic.Int64
	hold  chan struct{}
}

func newTestService(t *testing.T, name string) *testService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveTestService(t, name, ln, false)
}

// serveTestService serves a testService on ln, with the standard health
// service (SERVING) if withHealth.
func serveTestService(t *testing.T, name string, ln net.Listener, withHealth bool) *testService {
	s := &testService{name: name, addr: ln.Addr().String(), srv: grpc.NewServer()}
	grpc_testing.RegisterTestServiceServer(s.srv, s)
	if withHealth {
		healthpb.RegisterHealthServer(s.srv, health.NewServer())
	}
	go s.srv.Serve(ln)
	t.Cleanup(s.srv.Stop)
	return s
}

// annotate sends the header and trailers every call gets.
func (s *testService) annotate(ctx context.Context) {
	s.calls.Add(1)
	grpc.SetHeader(ctx, metadata.Pairs("x-server", s.name))
	left := int64(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d).Milliseconds()
	}
	grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "from "+s.name, "x-deadline-ms", strconv.FormatInt(left, 10)))
}

func (s *testService) UnaryCall(ctx context.Context, req *grpc_testing.SimpleRequest) (*grpc_testing.SimpleResponse, error) {
	s.annotate(ctx)
	if req.GetResponseStatus().GetCode() != 0 {
		return nil, status.Error(codes.Code(req.ResponseStatus.Code), req.ResponseStatus.Message)
	}
	return &grpc_testing.SimpleResponse{Payload: req.Payload, ServerId: s.name}, nil
}

func (s *testService) StreamingOutputCall(req *grpc_testing.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[grpc_testing.StreamingOutputCallResponse]) error {
	s.annotate(stream.Context())
	for i, p := range req.ResponseParameters {
		if i == 1 && s.hold != nil {
			select {
			case <-s.hold:
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		body := bytes.Repeat([]byte{'x'}, int(p.Size))
		if err := stream.Send(&grpc_testing.StreamingOutputCallResponse{Payload: &grpc_testing.Payload{Body: body}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *testService) StreamingInputCall(stream grpc.ClientStreamingServer[grpc_testing.StreamingInputCallRequest, grpc_testing.StreamingInputCallResponse]) error {
	s.annotate(stream.Context())
	var n int32
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&grpc_testing.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		if err != nil {
			return err
		}
		n += int32(len(req.Payload.GetBody()))
	}
}

// FullDuplexCall answers each message at once with its payload in upper
// case, so a client that waits for each answer before sending the next
// proves that neither direction is buffered.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[grpc_testing.StreamingOutputCallRequest, grpc_testing.StreamingOutputCallResponse]) error {
	s.annotate(stream.Context())
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		body := bytes.ToUpper(req.Payload.GetBody())
		if err := stream.Send(&grpc_testing.StreamingOutputCallResponse{Payload: &grpc_testing.Payload{Body: body}}); err != nil {
			return err
		}
	}
}

func grpcGroup(name string, targets ...string) TargetGroupConfig {
	g := group(name, targets...)
	g.Protocol = ProtocolGRPC
	return g
}

// dialGRPC returns a TestService client connected to the proxy's listener
// "web" (cleartext HTTP/2).
func dialGRPC(t *testing.T, p *Proxy) grpc_testing.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(p.Addr("web").String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return grpc_testing.NewTestServiceClient(cc)
}

// TestGRPCTarget: gRPC calls of every kind pass through, from clients
// over h2c and over TLS (whose writes the listener batches differently:
// h2batch.go).
func TestGRPCTarget(t *testing.T) {
	svc := newTestService(t, "blue")
	t.Run("h2c listener", func(t *testing.T) {
		p := startProxy(t, oneListener(forward("g", 1), grpcGroup("g", svc.addr)))
		grpcCalls(t, dialGRPC(t, p))
	})
	t.Run("TLS listener", func(t *testing.T) {
		certFile, keyFile, pool := testcert.Files(t)
		cfg := oneListener(forward("g", 1), grpcGroup("g", svc.addr))
		cfg.Listeners[0].TLS = &TLSConfig{CertFile: certFile, KeyFile: keyFile}
		p := startProxy(t, cfg)
		cc, err := grpc.NewClient(p.Addr("web").String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		grpcCalls(t, grpc_testing.NewTestServiceClient(cc))
	})
}

// grpcCalls makes calls of every kind to the test service through client.
func grpcCalls(t *testing.T, client grpc_testing.TestServiceClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("unary with header and trailers", func(t *testing.T) {
		var header, trailer metadata.MD
		res, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: []byte("ping")}},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if string(res.Payload.GetBody()) != "ping" || res.ServerId != "blue" {
			t.Errorf("response = %q from %q, want ping from blue", res.Payload.GetBody(), res.ServerId)
		}
		if got := header.Get("x-server"); len(got) != 1 || got[0] != "blue" {
			t.Errorf("header x-server = %q, want blue", got)
		}
		if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "from blue" {
			t.Errorf("trailer x-trailer = %q, want \"from blue\"", got)
		}
	})

	// Errors come back trailers-only (one HEADERS frame with
	// grpc-status); split in two they would be an Internal error. A split
	// depends on timing, hence the repetitions.
	t.Run("status from the target passes through", func(t *testing.T) {
		for range 20 {
			_, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{ResponseStatus: &grpc_testing.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing"}})
			if s := status.Convert(err); s.Code() != codes.NotFound || s.Message() != "no such thing" {
				t.Fatalf("UnaryCall = %v, want NotFound: no such thing", err)
			}
			_, err = client.UnimplementedCall(ctx, &grpc_testing.Empty{})
			if status.Code(err) != codes.Unimplemented {
				t.Fatalf("UnimplementedCall = %v, want Unimplemented", err)
			}
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		stream, err := client.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{
			ResponseParameters: []*grpc_testing.ResponseParameters{{Size: 10}, {Size: 100_000}, {Size: 3}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for {
			res, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			sizes = append(sizes, len(res.Payload.GetBody()))
		}
		if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 100_000 || sizes[2] != 3 {
			t.Errorf("sizes = %v, want [10 100000 3]", sizes)
		}
		if got := stream.Trailer().Get("x-trailer"); len(got) != 1 {
			t.Errorf("trailer x-trailer = %q, want one", got)
		}
	})

	t.Run("client streaming", func(t *testing.T) {
		stream, err := client.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 1000, 200_000} {
			if err := stream.Send(&grpc_testing.StreamingInputCallRequest{Payload: &grpc_testing.Payload{Body: make([]byte, n)}}); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		res, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatalf("CloseAndRecv: %v", err)
		}
		if res.AggregatedPayloadSize != 201_001 {
			t.Errorf("aggregated size = %d, want 201001", res.AggregatedPayloadSize)
		}
	})

	t.Run("bidirectional streaming", func(t *testing.T) {
		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, word := range []string{"one", "two", "three"} {
			if err := stream.Send(&grpc_testing.StreamingOutputCallRequest{Payload: &grpc_testing.Payload{Body: []byte(word)}}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			res, err := stream.Recv() // before the next Send: nothing may wait in a buffer
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if got := string(res.Payload.GetBody()); got != strings.ToUpper(word) {
				t.Errorf("answer = %q, want %q", got, strings.ToUpper(word))
			}
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("after CloseSend: %v, want EOF", err)
		}
	})

	t.Run("deadline propagation", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var trailer metadata.MD
		if _, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{}, grpc.Trailer(&trailer)); err != nil {
			t.Fatal(err)
		}
		left, err := strconv.Atoi(strings.Join(trailer.Get("x-deadline-ms"), ""))
		if err != nil || left <= 0 || left > 3000 {
			t.Errorf("the target saw a deadline %q ms ahead, want 1-3000", trailer.Get("x-deadline-ms"))
		}
	})
}

func TestGRPCUnreachableTargetIsUnavailable(t *testing.T) {
	p := startProxy(t, oneListener(forward("g", 1), grpcGroup("g", closedAddr(t))))
	client := dialGRPC(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{})
	if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "connection refused") {
		t.Errorf("UnaryCall = %v, want Unavailable naming the refused connection", err)
	}

	// On the wire: a trailers-only response, HTTP 200 with grpc-status 14
	// and no body, not an HTML or text 502.
	resp := postGRPC(t, "http://"+p.Addr("web").String()+"/grpc.testing.TestService/UnaryCall")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Grpc-Status") != "14" || resp.Header.Get("Content-Type") != "application/grpc" || body != "" {
		t.Errorf("got %d %v %q, want 200, grpc-status 14, application/grpc and no body", resp.StatusCode, resp.Header, body)
	}
}

// postGRPC sends an empty gRPC message to url over h2c.
func postGRPC(t *testing.T, url string) *http.Response {
	t.Helper()
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protocols}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(make([]byte, 5)))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp
}

func TestGRPCNoTargetIsUnavailable(t *testing.T) {
	g := grpcGroup("g")
	p := startProxy(t, oneListener(forward("g", 1), g))
	resp := postGRPC(t, "http://"+p.Addr("web").String()+"/grpc.testing.TestService/UnaryCall")
	readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Grpc-Status") != "14" || !strings.Contains(resp.Header.Get("Grpc-Message"), "no healthy target") {
		t.Errorf("got %d %v, want 200 with grpc-status 14 and the reason", resp.StatusCode, resp.Header)
	}
}

func TestGRPCDialErrorIsRetriedOnAnotherTarget(t *testing.T) {
	svc := newTestService(t, "blue")
	g := grpcGroup("g", closedAddr(t), svc.addr)
	g.Outlier.ConsecutiveFailures = -1
	p := startProxy(t, oneListener(forward("g", 1), g))
	client := dialGRPC(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 10 {
		if _, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: []byte("x")}}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := svc.calls.Load(); n != 10 {
		t.Errorf("the live target got %d calls, want 10", n)
	}
}

// A call that reached its target is never sent again: the target resets
// the stream after reading the request, and the client gets the error.
func TestGRPCCallThatReachedTheTargetIsNotRetried(t *testing.T) {
	var hits atomic.Int64
	reset := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		panic(http.ErrAbortHandler) // RST_STREAM
	}))
	svc := newTestService(t, "blue")
	g := grpcGroup("g", reset, svc.addr)
	g.Algorithm = RoundRobin
	g.Outlier.ConsecutiveFailures = -1
	p := startProxy(t, oneListener(forward("g", 1), g))
	client := dialGRPC(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	failed := 0
	for range 4 {
		if _, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{}); err != nil {
			failed++
		}
	}
	if failed != 2 || hits.Load() != 2 || svc.calls.Load() != 2 {
		t.Errorf("%d calls failed, resetting target hit %d times, good one %d; want 2, 2, 2 (round robin, no retry)", failed, hits.Load(), svc.calls.Load())
	}
}

// A deregistered target's open stream runs to its end; new calls go to
// the other target at once, and the drain completes with the stream.
func TestGRPCDrainLetsAnOpenStreamFinish(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sniff := &sniffListener{Listener: ln}
	blue, green := serveTestService(t, "blue", sniff, false), newTestService(t, "green")
	blue.hold = make(chan struct{})
	g := grpcGroup("g", blue.addr)
	g.DeregistrationDelay = 30 * time.Second
	p := startProxy(t, oneListener(forward("g", 1), g))
	client := dialGRPC(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	stream, err := client.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{
		ResponseParameters: []*grpc_testing.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first message: %v", err)
	}

	g.Targets = []string{green.addr}
	mustApply(t, p, oneListener(forward("g", 1), g))
	if st, _ := targetState(p, "g", blue.addr); st.State != StateDraining {
		t.Fatalf("blue is %q, want draining", st.State)
	}
	res, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{})
	if err != nil || res.ServerId != "green" {
		t.Fatalf("new call during the drain: %v from %q, want green", err, res.GetServerId())
	}
	drained := p.Drained("g", blue.addr)
	select {
	case <-drained:
		t.Fatal("blue drained while its stream was open")
	default:
	}

	close(blue.hold)
	for want := 2; ; want++ {
		res, err := stream.Recv()
		if err == io.EOF {
			if want != 4 {
				t.Fatalf("stream ended after %d messages, want 3", want-1)
			}
			break
		}
		if err != nil {
			t.Fatalf("the open stream was cut: %v", err)
		}
		if len(res.Payload.GetBody()) != want {
			t.Errorf("message size %d, want %d", len(res.Payload.GetBody()), want)
		}
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("blue did not drain after its stream ended")
	}
	eventually(t, "the proxy to send GOAWAY to blue", func() bool { return sniff.sawGoAway() })
}

// sniffListener keeps what its connections' peers sent, to look for
// HTTP/2 frames.
type sniffListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*sniffConn
}

type sniffConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &sniffConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, sc)
	l.mu.Unlock()
	return sc, nil
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.got = append(c.got, p[:n]...)
	c.mu.Unlock()
	return n, err
}

// received returns what each connection's peer sent so far, a copy.
func (l *sniffListener) received() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	for _, c := range l.conns {
		c.mu.Lock()
		out = append(out, bytes.Clone(c.got))
		c.mu.Unlock()
	}
	return out
}

// sawGoAway reports whether a client sent GOAWAY on any connection.
func (l *sniffListener) sawGoAway() bool {
	for _, got := range l.received() {
		got = bytes.TrimPrefix(got, []byte(http2.ClientPreface))
		fr := http2.NewFramer(nil, bytes.NewReader(got))
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				break
			}
			if _, ok := f.(*http2.GoAwayFrame); ok {
				return true
			}
		}
	}
	return false
}

// h2cServer starts a cleartext HTTP/2-only server and returns its address.
func h2cServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveH2C(t, ln, h)
	return ln.Addr().String()
}

// serveH2C serves cleartext HTTP/2 only on ln until the test ends.
func serveH2C(t *testing.T, ln net.Listener, h http.Handler) {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// A stream still open when the deregistration delay ends is cut, and the
// drain completes.
func TestGRPCDrainCutsAStreamAtTheDelay(t *testing.T) {
	blue, green := newTestService(t, "blue"), newTestService(t, "green")
	blue.hold = make(chan struct{}) // never closed
	g := grpcGroup("g", blue.addr)
	g.DeregistrationDelay = time.Second
	p := startProxy(t, oneListener(forward("g", 1), g))
	client := dialGRPC(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := client.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{
		ResponseParameters: []*grpc_testing.ResponseParameters{{Size: 1}, {Size: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	g.Targets = []string{green.addr}
	mustApply(t, p, oneListener(forward("g", 1), g))
	start := time.Now()
	if _, err := stream.Recv(); err == nil || err == io.EOF {
		t.Fatalf("the stream held past the delay got %v, want it cut", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("the stream was cut after %s, before the 1s delay", d)
	}
	select {
	case <-p.Drained("g", blue.addr):
	case <-time.After(10 * time.Second):
		t.Fatal("blue did not drain at the end of its delay")
	}
}

// A grpc group's targets are checked with grpc.health.v1: one that
// serves the health service becomes healthy, one without it (status 12,
// UNIMPLEMENTED) unhealthy.
func TestGRPCGroupHealthChecks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	withHealth := serveTestService(t, "with", ln, true)
	without := newTestService(t, "without")
	g := grpcGroup("g", withHealth.addr, without.addr)
	g.HealthCheck = fastChecks()
	g.HealthCheck.Path = "" // not used by gRPC checks
	p := startProxy(t, oneListener(forward("g", 1), g))
	eventually(t, "the health service's target to be healthy and the other unhealthy", func() bool {
		a, _ := targetState(p, "g", withHealth.addr)
		b, _ := targetState(p, "g", without.addr)
		return a.State == StateHealthy && b.State == StateUnhealthy && b.Reason == "Target.ResponseCodeMismatch"
	})
}
