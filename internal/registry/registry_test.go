package registry

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Credentials of the test registry: "pusher" may push and pull, "reader"
// may only pull.
func authorize(r *http.Request, push bool) bool {
	user, pass, ok := r.BasicAuth()
	switch {
	case !ok:
		return false
	case user == "pusher" && pass == "push-secret":
		return true
	case user == "reader" && pass == "read-secret":
		return !push
	}
	return false
}

var (
	pusher = remote.WithAuth(&authn.Basic{Username: "pusher", Password: "push-secret"})
	reader = remote.WithAuth(&authn.Basic{Username: "reader", Password: "read-secret"})
)

// serve starts a registry on dir and returns its host:port.
func serve(t *testing.T, dir string) string {
	t.Helper()
	h, err := New(Options{Dir: dir, Authorize: authorize})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// testImage is a one-layer image whose file content is data.
func testImage(t *testing.T, data string) v1.Image {
	t.Helper()
	layer, err := crane.Layer(map[string][]byte{"hello.txt": []byte(data)})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pullDigest pulls ref and returns the digest of the image and of its layer.
func pullDigest(t *testing.T, r name.Reference, opts ...remote.Option) (v1.Hash, error) {
	t.Helper()
	img, err := remote.Image(r, opts...)
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers { // read every blob back
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		rc.Close()
	}
	return img.Digest()
}

func TestPushPullWithCredentials(t *testing.T) {
	addr := serve(t, t.TempDir())
	img := testImage(t, "v1")
	want, _ := img.Digest()
	r := ref(t, addr+"/team/hello:v1")

	if err := remote.Write(r, img, pusher); err != nil {
		t.Fatalf("push with deploy credentials: %v", err)
	}
	got, err := pullDigest(t, r, reader)
	if err != nil {
		t.Fatalf("pull with read credentials: %v", err)
	}
	if got != want {
		t.Errorf("pulled digest %s; want %s", got, want)
	}
	byDigest := ref(t, addr+"/team/hello@"+want.String())
	if _, err := pullDigest(t, byDigest, reader); err != nil {
		t.Errorf("pull by digest: %v", err)
	}
}

func TestRefusesWithoutCredentials(t *testing.T) {
	addr := serve(t, t.TempDir())
	img := testImage(t, "v1")
	r := ref(t, addr+"/hello:v1")
	if err := remote.Write(r, img, pusher); err != nil {
		t.Fatalf("push: %v", err)
	}

	tests := []struct {
		name string
		do   func() error
	}{
		{"anonymous push", func() error { return remote.Write(ref(t, addr+"/hello:v2"), testImage(t, "v2")) }},
		{"push with read-only credentials", func() error { return remote.Write(ref(t, addr+"/hello:v2"), testImage(t, "v2"), reader) }},
		{"anonymous pull", func() error { _, err := pullDigest(t, r); return err }},
		{"pull with a wrong password", func() error {
			_, err := pullDigest(t, r, remote.WithAuth(&authn.Basic{Username: "reader", Password: "nope"}))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
				t.Errorf("err = %v; want a 401", err)
			}
		})
	}
	// Nothing was pushed by the refused requests.
	if _, err := pullDigest(t, ref(t, addr+"/hello:v2"), pusher); err == nil {
		t.Error("hello:v2 exists after refused pushes")
	}

	resp, err := http.Get("http://" + addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("GET /v2/ = %d, WWW-Authenticate %q; want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestRestartKeepsManifestsAndBlobs(t *testing.T) {
	dir := t.TempDir()
	first := serve(t, dir)
	img := testImage(t, "kept")
	want, _ := img.Digest()
	if err := remote.Write(ref(t, first+"/hello:v1"), img, pusher); err != nil {
		t.Fatalf("push: %v", err)
	}
	// An index whose replay needs its child manifest first.
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	if err := remote.WriteIndex(ref(t, first+"/hello:multi"), idx, pusher); err != nil {
		t.Fatalf("push index: %v", err)
	}
	// A deleted tag stays deleted.
	if err := remote.Write(ref(t, first+"/hello:gone"), testImage(t, "gone"), pusher); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref(t, first+"/hello:gone"), pusher); err != nil {
		t.Fatalf("delete: %v", err)
	}

	second := serve(t, dir) // a new handler on the same directory
	got, err := pullDigest(t, ref(t, second+"/hello:v1"), reader)
	if err != nil {
		t.Fatalf("pull after restart: %v", err)
	}
	if got != want {
		t.Errorf("digest after restart %s; want %s", got, want)
	}
	if _, err := remote.Index(ref(t, second+"/hello:multi"), reader); err != nil {
		t.Errorf("index after restart: %v", err)
	}
	if _, err := pullDigest(t, ref(t, second+"/hello:gone"), reader); err == nil {
		t.Error("deleted tag hello:gone is back after restart")
	}
}

func TestNewNeedsDirAndAuthorize(t *testing.T) {
	if _, err := New(Options{Authorize: authorize}); err == nil {
		t.Error("New without Dir succeeded")
	}
	if _, err := New(Options{Dir: t.TempDir()}); err == nil {
		t.Error("New without Authorize succeeded")
	}
}

func TestParseRoute(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		path string
		want route
		code string // the error's code, "" for none
	}{
		{"/v2/", route{kind: routeBase}, ""},
		{"/v2/_catalog", route{kind: routeCatalog}, ""},
		{"/v2/hello/manifests/v1", route{routeManifest, "hello", "v1"}, ""},
		{"/v2/team/app/manifests/" + d, route{routeManifest, "team/app", d}, ""},
		{"/v2/team/app/tags/list", route{kind: routeTags, repo: "team/app"}, ""},
		{"/v2/hello/blobs/" + d, route{routeBlob, "hello", d}, ""},
		{"/v2/hello/blobs/uploads/", route{kind: routeUploads, repo: "hello"}, ""},
		{"/v2/hello/blobs/uploads/0123456789abcdef0123456789abcdef", route{routeUpload, "hello", "0123456789abcdef0123456789abcdef"}, ""},
		{"/v2/hello/blobs/sha256:abc", route{}, "DIGEST_INVALID"},
		{"/v2/hello/blobs/sha256:../../etc/passwd", route{}, "NAME_UNKNOWN"},
		{"/v2/Hello/manifests/v1", route{}, "NAME_INVALID"},
		{"/v2/hello/manifests/-v1", route{}, "TAG_INVALID"},
		{"/v2/hello/manifests/", route{}, "NAME_UNKNOWN"},
		{"/v2/hello/blobs/uploads/../x", route{}, "NAME_UNKNOWN"},
	}
	for _, tt := range tests {
		got, err := parseRoute(tt.path)
		code := ""
		if err != nil {
			code = err.code
		}
		if got != tt.want || code != tt.code {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, code %q", tt.path, got, err, tt.want, tt.code)
		}
	}
}
