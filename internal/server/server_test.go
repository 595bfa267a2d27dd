package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// start runs a daemon on a temp data dir with its TCP listener on a free
// loopback port.
func start(t *testing.T) *Server {
	t.Helper()
	ctx := context.Background()
	s, err := Start(ctx, Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), API: api.TCPOptions{Addr: "127.0.0.1:0"}, InProcessDataPlane: true})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(cctx)
	})
	return s
}

func token(t *testing.T, s *Server, role string) string {
	t.Helper()
	c := api.NewClient(s.SocketPath())
	tok, err := c.CreateToken(context.Background(), api.TokenRequest{Name: "t-" + role, Role: role})
	if err != nil {
		t.Fatalf("creating a %s token: %v", role, err)
	}
	return tok.Secret
}

func TestTCPListenerRoutes(t *testing.T) {
	s := start(t)
	base := "http://" + s.APIAddr().String()
	tests := []struct {
		path string
		want int
	}{
		{"/api/v1/apps", http.StatusUnauthorized},    // the API wants a token
		{"/v2/", http.StatusUnauthorized},            // the registry wants a credential
		{"/", http.StatusSeeOther},                   // the dashboard sends you to sign in
		{"/hooks/nope", http.StatusMethodNotAllowed}, // webhooks are POSTs
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		resp, err := client.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
}

func TestRegistryPushAndPullWithTokens(t *testing.T) {
	s := start(t)
	host := s.APIAddr().String()
	ref, err := name.ParseReference(host+"/hello:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := crane.Layer(map[string][]byte{"hello.txt": []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	deployer := remote.WithAuth(&authn.Basic{Username: "ci", Password: token(t, s, store.RoleDeploy)})
	reader := remote.WithAuth(&authn.Basic{Username: "node", Password: token(t, s, store.RoleRead)})

	if err := remote.Write(ref, img, reader); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("push with a read token: %v, want 401", err)
	}
	if err := remote.Write(ref, img); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("anonymous push: %v, want 401", err)
	}
	if err := remote.Write(ref, img, deployer); err != nil {
		t.Fatalf("push with a deploy token: %v", err)
	}
	pulled, err := remote.Image(ref, reader)
	if err != nil {
		t.Fatalf("pull with a read token: %v", err)
	}
	want, _ := img.Digest()
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("pulled %s, pushed %s", got, want)
	}
	if _, err := remote.Image(ref); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("anonymous pull: %v, want 401", err)
	}
}

func isStatus(err error, code int) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == code
}

// A deploy of a directory that does not exist is the caller's mistake:
// 400, not 500.
func TestDeployOfAMissingDirectoryIsABadRequest(t *testing.T) {
	s := start(t)
	_, err := api.NewClient(s.SocketPath()).Deploy(context.Background(), api.DeployRequest{Dir: "/missing-dir"})
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "/missing-dir") {
		t.Errorf("deploying /missing-dir: %v; want a 400 answer naming the directory", err)
	}
}
