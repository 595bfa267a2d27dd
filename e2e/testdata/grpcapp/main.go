// Command grpcapp is a gRPC service for the e2e tests and the gRPC
// benchmark: grpc.testing.TestService's UnaryCall echoes the payload with
// $APP_VERSION as its server id, and the standard health service reports
// SERVING. It listens on 127.0.0.1:$PORT (default 8080) and stops
// gracefully on SIGTERM: the calls it has finish, new ones are refused.
package main

import (
	"context"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/interop/grpc_testing"
)

type service struct {
	grpc_testing.UnimplementedTestServiceServer
	version string
}

func (s *service) UnaryCall(_ context.Context, req *grpc_testing.SimpleRequest) (*grpc_testing.SimpleResponse, error) {
	return &grpc_testing.SimpleResponse{Payload: req.Payload, ServerId: s.version}, nil
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	grpc_testing.RegisterTestServiceServer(srv, &service{version: os.Getenv("APP_VERSION")})
	healthpb.RegisterHealthServer(srv, health.NewServer()) // "" is SERVING
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		srv.GracefulStop()
	}()
	log.Printf("grpcapp %s listening on %s", os.Getenv("APP_VERSION"), ln.Addr())
	if err := srv.Serve(ln); err != nil {
		log.Fatal(err)
	}
}
