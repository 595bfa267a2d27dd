package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/cutover/cutover/internal/testcert"
)

// newTLSTestService serves a testService, with the health service, over
// TLS only, with a self-signed certificate.
func newTLSTestService(t *testing.T, name string) *testService {
	t.Helper()
	cert, _ := testcert.Pair(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})
	s := &testService{name: name, addr: ln.Addr().String(), srv: grpc.NewServer(grpc.Creds(creds))}
	grpc_testing.RegisterTestServiceServer(s.srv, s)
	healthpb.RegisterHealthServer(s.srv, health.NewServer())
	go s.srv.Serve(ln)
	t.Cleanup(s.srv.Stop)
	return s
}

// A grpcs group speaks gRPC over TLS to a target that offers nothing
// else (its certificate is self-signed and not verified, as on ALB), and
// checks its health over TLS: the target becomes healthy, and calls
// (unary and streaming) pass with their trailers. The same target in a
// grpc group (h2c) fails its checks.
func TestGRPCSTarget(t *testing.T) {
	svc := newTLSTestService(t, "tls")
	secure := grpcGroup("secure", svc.addr)
	secure.Protocol = ProtocolGRPCS
	secure.HealthCheck = fastChecks()
	cleartext := grpcGroup("cleartext", svc.addr)
	cleartext.HealthCheck = fastChecks()
	p := startProxy(t, oneListener(forward("secure", 1), secure, cleartext))
	eventually(t, "the TLS target to be healthy in the grpcs group and unhealthy in the grpc group", func() bool {
		a, _ := targetState(p, "secure", svc.addr)
		b, _ := targetState(p, "cleartext", svc.addr)
		return a.State == StateHealthy && b.State == StateUnhealthy
	})

	client := dialGRPC(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var trailer metadata.MD
	res, err := client.UnaryCall(ctx, &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: []byte("ping")}}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if string(res.Payload.GetBody()) != "ping" || res.ServerId != "tls" {
		t.Errorf("response = %q from %q, want ping from tls", res.Payload.GetBody(), res.ServerId)
	}
	if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "from tls" {
		t.Errorf("trailer x-trailer = %q, want \"from tls\"", got)
	}

	stream, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"one", "two"} {
		if err := stream.Send(&grpc_testing.StreamingOutputCallRequest{Payload: &grpc_testing.Payload{Body: []byte(word)}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("Recv: %v", err)
		}
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v, want EOF", err)
	}
}
