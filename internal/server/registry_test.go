package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/store"
)

// startIn runs a daemon on dir; the caller closes it.
func startIn(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		API: api.TCPOptions{Addr: "127.0.0.1:0"}, InProcessDataPlane: true})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func closeServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// The audit's sequence with a deploy token: push an image and an index
// listing it, delete the image, damage a stored manifest, restart. The
// daemon starts, and the registry serves what it still can.
func TestBrokenRegistryEntriesDoNotStopTheStart(t *testing.T) {
	dir := t.TempDir()
	s := startIn(t, dir)
	deployer := remote.WithAuth(&authn.Basic{Username: "ci", Password: token(t, s, store.RoleDeploy)})
	reader := remote.WithAuth(&authn.Basic{Username: "node", Password: token(t, s, store.RoleRead)})
	at := func(s *Server, r string) name.Reference {
		ref, err := name.ParseReference(s.APIAddr().String()+"/"+r, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	layer, err := crane.Layer(map[string][]byte{"hello.txt": []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, layer)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	for _, r := range []string{"hello:v1", "kept:v1", "damaged:v1"} {
		if err := remote.Write(at(s, r), img, deployer); err != nil {
			t.Fatalf("push %s: %v", r, err)
		}
	}
	if err := remote.WriteIndex(at(s, "hello:multi"), idx, deployer); err != nil {
		t.Fatalf("push the index: %v", err)
	}
	if err := remote.Delete(at(s, "hello:v1"), deployer); err != nil {
		t.Fatalf("delete hello:v1: %v", err)
	}
	closeServer(t, s)
	damageManifests(t, filepath.Join(dir, "registry", "manifests"), "damaged")

	s = startIn(t, dir) // fails the test if the start fails
	defer closeServer(t, s)
	if _, err := remote.Index(at(s, "hello:multi"), reader); err != nil {
		t.Errorf("pull the index after the restart: %v", err)
	}
	if _, err := remote.Image(at(s, "kept:v1"), reader); err != nil {
		t.Errorf("pull kept:v1 after the restart: %v", err)
	}
	if _, err := remote.Image(at(s, "damaged:v1"), reader); !isStatus(err, 404) {
		t.Errorf("pull damaged:v1 after the restart: %v; want 404", err)
	}
}

// damageManifests truncates the stored manifest files of repo.
func damageManifests(t *testing.T, dir, repo string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(data), `{"repo":"`+repo+`"`) {
			if err := os.Truncate(f, 40); err != nil {
				t.Fatal(err)
			}
		}
	}
}
