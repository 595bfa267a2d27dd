package api

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

func TestListenTCPRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		opts    TCPOptions
		refused bool
	}{
		{TCPOptions{Addr: "127.0.0.1:0"}, false},
		{TCPOptions{Addr: "[::1]:0"}, false},
		{TCPOptions{Addr: "localhost:0"}, false},
		{TCPOptions{Addr: ":0"}, true},
		{TCPOptions{Addr: "0.0.0.0:0"}, true},
		{TCPOptions{Addr: "[::]:0"}, true},
		{TCPOptions{Addr: "0.0.0.0:0", Insecure: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.opts.Addr, func(t *testing.T) {
			ln, err := ListenTCP(ctx, tt.opts, log)
			if tt.refused {
				if !errors.Is(err, ErrInsecureBind) {
					t.Fatalf("ListenTCP(%+v) = %v, want ErrInsecureBind", tt.opts, err)
				}
				return
			}
			if err != nil {
				t.Skipf("cannot listen here: %v", err) // e.g. no IPv6
			}
			ln.Close()
		})
	}
	if _, err := ListenTCP(ctx, TCPOptions{Addr: "0.0.0.0:0", CertFile: "cert.pem"}, log); err == nil {
		t.Error("a certificate without a key was accepted")
	}
}
