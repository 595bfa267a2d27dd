package swarm

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/registry"
)

// Credentials of the test registry.
const (
	registryUser     = "deploy"
	registryPassword = "s3cret"
)

// startRegistry serves cutover's registry on listenAddr (host:0) and
// returns its host:port.
func startRegistry(t *testing.T, listenAddr string) string {
	t.Helper()
	h, err := registry.New(registry.Options{
		Dir: t.TempDir(),
		Authorize: func(r *http.Request, push bool) bool {
			user, pass, ok := r.BasicAuth()
			return ok && user == registryUser && pass == registryPassword
		},
	})
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().String()
}

// registryAuth is the X-Registry-Auth value for the test registry at addr.
func registryAuth(t *testing.T, addr string) string {
	t.Helper()
	raw, err := json.Marshal(registrytypes.AuthConfig{Username: registryUser, Password: registryPassword, ServerAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(raw)
}

// appImage is the test app as an OCI image built without a daemon: one
// layer holding /app, run as the entrypoint.
func appImage(t *testing.T) v1.Image {
	t.Helper()
	bin, err := buildApp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(bin)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", goruntime.GOARCH
	cfg.Config.Entrypoint = []string{"/app"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes img to ref on the test registry with its credentials.
func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: registryUser, Password: registryPassword})
	if err := remote.Write(r, img, auth); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// removeImage removes ref from the Engine when the test ends.
func removeImage(t *testing.T, e *testEngine, ref string) {
	t.Cleanup(func() {
		// Not t.Context(): it is cancelled before cleanup functions run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.client.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
}

func TestEnginePullsFromRegistryAndSwarmRunsIt(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	// The Engine trusts plain-HTTP registries on 127.0.0.0/8.
	addr := startRegistry(t, "127.0.0.1:0")
	img := appImage(t)
	pulled := addr + "/cutover-test/hello:" + e.runID + "-pulled"
	runOnly := addr + "/cutover-test/hello:" + e.runID + "-swarm"
	push(t, pulled, img)
	push(t, runOnly, img)
	removeImage(t, e, pulled)
	removeImage(t, e, runOnly)

	// Without a credential the Engine is refused.
	if res, err := e.client.ImagePull(t.Context(), pulled, client.ImagePullOptions{}); err == nil {
		err = res.Wait(t.Context())
		if err == nil {
			t.Error("anonymous pull from the registry succeeded")
		}
	}
	res, err := e.client.ImagePull(t.Context(), pulled, client.ImagePullOptions{RegistryAuth: registryAuth(t, addr)})
	if err != nil {
		t.Fatalf("ImagePull %s: %v", pulled, err)
	}
	if err := res.Wait(t.Context()); err != nil {
		t.Fatalf("ImagePull %s: %v", pulled, err)
	}
	want, _ := img.Digest()
	inspected, err := e.client.ImageInspect(t.Context(), pulled)
	if err != nil {
		t.Fatalf("ImageInspect %s: %v", pulled, err)
	}
	if !strings.Contains(strings.Join(inspected.RepoDigests, " "), want.String()) {
		t.Errorf("RepoDigests = %v; want the pushed digest %s", inspected.RepoDigests, want)
	}

	// A tag the Engine has not pulled: the Swarm node pulls it with the
	// driver's registry credential and runs it.
	d := e.newDriver(t, Options{RegistryAuth: registryAuth(t, addr)})
	spec := e.spec(t, "a", nil)
	spec.Image = runOnly
	task := start(t, d, spec)
	if got, want := get(t, task.Address, "/"), "hello from "+spec.ID+"\n"; got != want {
		t.Errorf("GET / = %q; want %q", got, want)
	}
}
