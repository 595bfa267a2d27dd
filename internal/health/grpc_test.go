package health

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// grpcTarget starts a gRPC server on 127.0.0.1, with the standard health
// service when hs is not nil, and returns its address.
func grpcTarget(t *testing.T, hs *health.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	if hs != nil {
		healthpb.RegisterHealthServer(srv, hs)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func grpcConfig() Config {
	cfg := httpConfig()
	cfg.Protocol = ProtocolGRPC
	return cfg
}

func TestGRPCHealthCheck(t *testing.T) {
	t.Parallel()
	healthServer := func(overall healthpb.HealthCheckResponse_ServingStatus) *health.Server {
		hs := health.NewServer()
		hs.SetServingStatus("", overall)
		hs.SetServingStatus("shop.Orders", healthpb.HealthCheckResponse_SERVING)
		return hs
	}
	tests := []struct {
		name       string
		hs         *health.Server // nil: no health service
		service    string
		matcher    string
		want       Status
		wantCode   int
		wantReason string
		wantErr    string
	}{
		{name: "serving", hs: healthServer(healthpb.HealthCheckResponse_SERVING), want: StatusHealthy},
		{name: "not serving", hs: healthServer(healthpb.HealthCheckResponse_NOT_SERVING),
			want: StatusUnhealthy, wantReason: ReasonFailedHealthChecks, wantErr: "serving status NOT_SERVING"},
		{name: "named service serving while the server is not", hs: healthServer(healthpb.HealthCheckResponse_NOT_SERVING),
			service: "shop.Orders", want: StatusHealthy},
		{name: "unknown service is NOT_FOUND", hs: healthServer(healthpb.HealthCheckResponse_SERVING),
			service: "shop.Nothing", want: StatusUnhealthy, wantCode: 5, wantReason: ReasonResponseCodeMismatch, wantErr: `gRPC status 5 does not match "0"`},
		{name: "unimplemented", want: StatusUnhealthy, wantCode: 12, wantReason: ReasonResponseCodeMismatch},
		{name: "unimplemented matched, as ALB allows", matcher: "0,12", want: StatusHealthy, wantCode: 12},
		{name: "range matcher", matcher: "0-99", hs: healthServer(healthpb.HealthCheckResponse_SERVING), want: StatusHealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := grpcTarget(t, tc.hs)
			cfg := grpcConfig()
			cfg.GRPCService, cfg.Matcher = tc.service, tc.matcher
			c := NewChecker(cfg, nil)
			defer c.Close()
			c.Add(addr)
			r := waitStatus(t, c, addr, tc.want)
			if r.Code != tc.wantCode || r.Reason != tc.wantReason {
				t.Errorf("result %+v, want code %d reason %q", r, tc.wantCode, tc.wantReason)
			}
			if tc.wantErr != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one saying %q", r.Err, tc.wantErr)
			}
		})
	}
}

func TestGRPCHealthCheckOfAnHTTPServerFails(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, http.StatusOK) // HTTP/1.1 only
	c := NewChecker(grpcConfig(), nil)
	defer c.Close()
	addr := srv.Listener.Addr().String()
	c.Add(addr)
	r := waitStatus(t, c, addr, StatusUnhealthy)
	if r.Reason != ReasonFailedHealthChecks {
		t.Errorf("reason %q, want %q", r.Reason, ReasonFailedHealthChecks)
	}
}

// The hand-written request is what protobuf would encode, and the
// response decoder reads what protobuf encodes.
func TestGRPCHealthMessages(t *testing.T) {
	for _, service := range []string{"", "shop.Orders", strings.Repeat("s", 200)} {
		want, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		if got := healthCheckRequest(service); !bytes.Equal(got, want) {
			t.Errorf("request for %q = %x, want %x", service, got, want)
		}
	}
	for _, st := range []healthpb.HealthCheckResponse_ServingStatus{0, 1, 2, 3} {
		msg, _ := proto.Marshal(&healthpb.HealthCheckResponse{Status: st})
		got, err := servingStatus(grpcFrame(msg))
		if err != nil || got != uint64(st) {
			t.Errorf("status %v decoded as %d, %v", st, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 0, 0, 0}, {0, 0, 0, 0, 9, 8}, {0, 0, 0, 0, 2, 8, 0xff}} {
		if _, err := servingStatus(bad); err == nil {
			t.Errorf("servingStatus(%x) accepted a broken message", bad)
		}
	}
}

// protoServer records the protocol of the check requests it gets.
type protoServer struct {
	mu    sync.Mutex
	proto string
}

func (s *protoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.proto = r.Proto
	s.mu.Unlock()
}

func (s *protoServer) seen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proto
}

func TestHTTP2HealthChecks(t *testing.T) {
	t.Parallel()
	// An h2c-only server: an HTTP/1.1 check fails, an h2c check passes.
	h2c := &protoServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h2c, Protocols: &protocols}
	go srv.Serve(ln)
	defer srv.Close()

	tlsSeen := &protoServer{}
	tlsSrv := httptest.NewUnstartedServer(tlsSeen)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	tests := []struct {
		protocol string
		addr     string
		seen     *protoServer
		want     Status
	}{
		{ProtocolH2C, ln.Addr().String(), h2c, StatusHealthy},
		{ProtocolHTTP1, ln.Addr().String(), nil, StatusUnhealthy},
		{ProtocolHTTP2, tlsSrv.Listener.Addr().String(), tlsSeen, StatusHealthy},
	}
	for _, tc := range tests {
		cfg := httpConfig()
		cfg.Protocol = tc.protocol
		c := NewChecker(cfg, nil)
		c.Add(tc.addr)
		waitStatus(t, c, tc.addr, tc.want)
		c.Close()
		if tc.seen != nil && tc.seen.seen() != "HTTP/2.0" {
			t.Errorf("%s check arrived as %q, want HTTP/2.0", tc.protocol, tc.seen.seen())
		}
	}
}

func TestValidateProtocol(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string // "" for valid
	}{
		{Config{Protocol: ProtocolGRPC}, ""},
		{Config{Protocol: ProtocolGRPC, Matcher: "0-99", GRPCService: "shop.Orders"}, ""},
		{Config{Protocol: ProtocolGRPC, Matcher: "200"}, "matcher"},
		{Config{Protocol: ProtocolGRPC, Matcher: "0-100"}, "matcher"},
		{Config{Protocol: ProtocolH2C, Matcher: "0"}, "matcher"},
		{Config{Protocol: ProtocolHTTP1, GRPCService: "shop.Orders"}, "grpc_service"},
		{Config{Protocol: ProtocolGRPC, GRPCService: "has space"}, "grpc_service"},
		{Config{Protocol: "spdy"}, "protocol"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("Validate(%+v) = %v, want nil", tc.cfg, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.field+": ") {
			t.Errorf("Validate(%+v) = %v, want an error about %s", tc.cfg, err, tc.field)
		}
	}
	if got := (Config{Protocol: ProtocolGRPC}).WithDefaults().Matcher; got != "0" {
		t.Errorf("default gRPC matcher = %q, want \"0\"", got)
	}
}
