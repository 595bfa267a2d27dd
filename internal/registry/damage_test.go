package registry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// open starts a registry on dir and returns it with its host:port.
func open(t *testing.T, dir string) (*Registry, string) {
	t.Helper()
	r, err := New(Options{Dir: dir, Authorize: authorize})
	if err != nil {
		t.Fatalf("New on a registry with a broken entry: %v", err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, strings.TrimPrefix(srv.URL, "http://")
}

// answer is the status and first error code of a request.
type answer struct {
	status  int
	code    string
	message string
}

// get sends GET http://addr+path with the reader's credentials.
func get(t *testing.T, addr, path string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.SetBasicAuth("reader", "read-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Errors []struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	a := answer{status: resp.StatusCode}
	if len(body.Errors) > 0 {
		a.code, a.message = body.Errors[0].Code, body.Errors[0].Message
	}
	return a
}

// pushed is what pushBroken stored.
type pushed struct {
	image, index v1.Hash // hello:v1 and hello:multi
	layer        v1.Hash // hello:v1's only layer
}

// pushBroken pushes good:v1, hello:v1 and an index hello:multi listing
// hello:v1.
func pushBroken(t *testing.T, addr string) pushed {
	t.Helper()
	if err := remote.Write(ref(t, addr+"/good:v1"), testImage(t, "good"), pusher); err != nil {
		t.Fatalf("push good:v1: %v", err)
	}
	img := testImage(t, "hello")
	if err := remote.Write(ref(t, addr+"/hello:v1"), img, pusher); err != nil {
		t.Fatalf("push hello:v1: %v", err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	if err := remote.WriteIndex(ref(t, addr+"/hello:multi"), idx, pusher); err != nil {
		t.Fatalf("push hello:multi: %v", err)
	}
	var p pushed
	p.image, _ = img.Digest()
	p.index, _ = idx.Digest()
	layers, _ := img.Layers()
	p.layer, _ = layers[0].Digest()
	return p
}

// checkGoodServes pulls good:v1 from a reopened registry.
func checkGoodServes(t *testing.T, addr string) {
	t.Helper()
	if _, err := pullDigest(t, ref(t, addr+"/good:v1"), reader); err != nil {
		t.Errorf("pull good:v1 after reopening: %v", err)
	}
}

// The audit's sequence: push a manifest, an index listing it, delete the
// manifest, restart. Deleting a listed manifest is allowed (as
// docker/distribution allows it); the index is then served without it.
func TestDeletedManifestOfAnIndexKeepsTheRegistryUp(t *testing.T) {
	tests := []struct {
		name      string
		delete    func(p pushed) string // the reference to delete
		wantChild int                   // GET hello@<image digest> after reopening
		problem   bool                  // whether hello:multi is reported
	}{
		{"by tag", func(pushed) string { return ":v1" }, http.StatusOK, false},
		{"by digest", func(p pushed) string { return "@" + p.image.String() }, http.StatusNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, first := open(t, dir)
			p := pushBroken(t, first)
			if err := remote.Delete(ref(t, first+"/hello"+tt.delete(p)), pusher); err != nil {
				t.Fatalf("delete: %v", err)
			}

			reg, addr := open(t, dir)
			checkGoodServes(t, addr)
			if a := get(t, addr, "/v2/hello/manifests/multi"); a.status != http.StatusOK {
				t.Errorf("GET hello:multi = %+v; want 200", a)
			}
			if a := get(t, addr, "/v2/hello/manifests/v1"); a.status != http.StatusNotFound || a.code != "MANIFEST_UNKNOWN" {
				t.Errorf("GET the deleted tag hello:v1 = %+v; want 404 MANIFEST_UNKNOWN", a)
			}
			if a := get(t, addr, "/v2/hello/manifests/"+p.image.String()); a.status != tt.wantChild {
				t.Errorf("GET hello@<image> = %+v; want %d", a, tt.wantChild)
			}
			if got := hasProblem(reg, "hello:multi"); got != tt.problem {
				t.Errorf("hello:multi reported: %v; want %v (problems %v)", got, tt.problem, reg.Problems())
			}
		})
	}
}

func hasProblem(r *Registry, what string) bool {
	for _, p := range r.Problems() {
		if p.What == what || strings.Contains(p.Path, what) {
			return true
		}
	}
	return false
}

// damage is a way files on disk break.
type damage struct {
	name    string
	damage  func(dir string, p pushed) error
	path    func(p pushed) string // the request that answers the error
	want    answer                // its status, code and a part of its message
	problem func(dir string) string
}

func tagFile(dir string) string {
	return newManifestStore(filepath.Join(dir, "manifests")).path("hello", "v1")
}

func layerFile(dir string, p pushed) string {
	return filepath.Join(dir, "blobs", p.layer.Algorithm, p.layer.Hex)
}

func manifestPath(pushed) string { return "/v2/hello/manifests/v1" }
func layerPath(p pushed) string  { return "/v2/hello/blobs/" + p.layer.String() }
func helloV1(string) string      { return "hello:v1" }

func damages() []damage {
	return []damage{
		{"truncated manifest file", func(dir string, _ pushed) error { return os.Truncate(tagFile(dir), 80) },
			manifestPath, answer{http.StatusNotFound, "MANIFEST_UNKNOWN", "cannot be read"}, helloV1},
		{"empty manifest file", func(dir string, _ pushed) error { return os.Truncate(tagFile(dir), 0) },
			manifestPath, answer{http.StatusNotFound, "MANIFEST_UNKNOWN", "not in repository"},
			func(dir string) string { return filepath.Base(tagFile(dir)) }},
		{"manifest changed on disk", func(dir string, _ pushed) error {
			return rewrite(tagFile(dir), `"body":"`, `"body":"ICAg`) // leading spaces: still JSON, another digest
		}, manifestPath, answer{http.StatusNotFound, "MANIFEST_UNKNOWN", "has digest"}, helloV1},
		{"truncated layer", func(dir string, p pushed) error { return os.Truncate(layerFile(dir, p), 10) },
			layerPath, answer{http.StatusNotFound, "BLOB_UNKNOWN", "damaged"},
			nil}, // found when read, not when opening
		{"missing layer", func(dir string, p pushed) error { return os.Remove(layerFile(dir, p)) },
			layerPath, answer{http.StatusNotFound, "BLOB_UNKNOWN", "not in the registry"}, helloV1},
	}
}

// Damaged files on disk: the registry opens, good:v1 is served, the
// damaged entry answers a clear error, and pushing it again repairs it.
func TestDamagedFilesKeepTheRegistryUp(t *testing.T) {
	for _, tt := range damages() {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, first := open(t, dir)
			p := pushBroken(t, first)
			if err := tt.damage(dir, p); err != nil {
				t.Fatal(err)
			}

			reg, addr := open(t, dir)
			checkGoodServes(t, addr)
			got := get(t, addr, tt.path(p))
			if got.status != tt.want.status || got.code != tt.want.code || !strings.Contains(got.message, tt.want.message) {
				t.Errorf("GET %s = %+v; want %d %s with %q", tt.path(p), got, tt.want.status, tt.want.code, tt.want.message)
			}
			if tt.problem != nil && !hasProblem(reg, tt.problem(dir)) {
				t.Errorf("Problems() = %v; want one for %s", reg.Problems(), tt.problem(dir))
			}
			pushHelloAgain(t, addr)
		})
	}
}

// pushHelloAgain pushes hello:v1's layer (which clients skip when the
// manifest is there), then the image, and pulls it.
func pushHelloAgain(t *testing.T, addr string) {
	t.Helper()
	img := testImage(t, "hello")
	layers, _ := img.Layers()
	if err := remote.WriteLayer(ref(t, addr+"/hello:v1").Context(), layers[0], pusher); err != nil {
		t.Fatalf("push hello's layer again: %v", err)
	}
	if err := remote.Write(ref(t, addr+"/hello:v1"), img, pusher); err != nil {
		t.Fatalf("push hello:v1 again: %v", err)
	}
	if _, err := pullDigest(t, ref(t, addr+"/hello:v1"), reader); err != nil {
		t.Errorf("pull hello:v1 after pushing it again: %v", err)
	}
}

// rewrite replaces the first old in path's content with new.
func rewrite(path, old, new string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o600)
}

// A manifest that lists what the registry lacks is refused, as
// docker/distribution refuses it.
func TestManifestListingMissingContentIsRefused(t *testing.T) {
	r, err := New(Options{Dir: t.TempDir(), Authorize: authorize})
	if err != nil {
		t.Fatal(err)
	}
	missing := "sha256:" + strings.Repeat("1", 64)
	tests := []struct{ name, contentType, body string }{
		{"image without its layer", "application/vnd.oci.image.manifest.v1+json",
			`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + missing + `","size":2},"layers":[]}`},
		{"index without its manifest", "application/vnd.oci.image.index.v1+json",
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + missing + `","size":2}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, "/v2/hello/manifests/v1", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			req.SetBasicAuth("pusher", "push-secret")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "MANIFEST_BLOB_UNKNOWN") {
				t.Errorf("PUT: %d %s; want 400 MANIFEST_BLOB_UNKNOWN", rec.Code, rec.Body)
			}
		})
	}
}
