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

// Damaged files on disk: the registry opens, good:v1 is served, and the
// damaged entry answers a clear error.
func TestDamagedFilesKeepTheRegistryUp(t *testing.T) {
	tagFile := func(dir string) string { return newManifestStore(filepath.Join(dir, "manifests")).path("hello", "v1") }
	blobFile := func(dir string, p pushed) string {
		return filepath.Join(dir, "blobs", p.layer.Algorithm, p.layer.Hex)
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string, p pushed) error
		path    func(p pushed) string // the request that answers the error
		want    answer                // its status, code and a part of its message
		problem func(dir string, p pushed) string
	}{
		{
			name:    "truncated manifest file",
			damage:  func(t *testing.T, dir string, _ pushed) error { return truncate(tagFile(dir), 80) },
			path:    func(pushed) string { return "/v2/hello/manifests/v1" },
			want:    answer{http.StatusNotFound, "MANIFEST_UNKNOWN", "cannot be read"},
			problem: func(string, pushed) string { return "hello:v1" },
		},
		{
			name:    "empty manifest file",
			damage:  func(t *testing.T, dir string, _ pushed) error { return truncate(tagFile(dir), 0) },
			path:    func(pushed) string { return "/v2/hello/manifests/v1" },
			want:    answer{http.StatusNotFound, "MANIFEST_UNKNOWN", "not in repository"},
			problem: func(dir string, _ pushed) string { return filepath.Base(tagFile(dir)) },
		},
		{
			name: "manifest changed on disk",
			damage: func(t *testing.T, dir string, _ pushed) error {
				return rewrite(tagFile(dir), `"body":"`, `"body":"ICAg`) // leading spaces: still JSON, another digest
			},
			path:    func(pushed) string { return "/v2/hello/manifests/v1" },
			want:    answer{http.StatusNotFound, "MANIFEST_UNKNOWN", "has digest"},
			problem: func(string, pushed) string { return "hello:v1" },
		},
		{
			name:    "truncated layer",
			damage:  func(t *testing.T, dir string, p pushed) error { return truncate(blobFile(dir, p), 10) },
			path:    func(p pushed) string { return "/v2/hello/blobs/" + p.layer.String() },
			want:    answer{http.StatusNotFound, "BLOB_UNKNOWN", "damaged"},
			problem: nil, // found when read, not when opening
		},
		{
			name:    "missing layer",
			damage:  func(t *testing.T, dir string, p pushed) error { return os.Remove(blobFile(dir, p)) },
			path:    func(p pushed) string { return "/v2/hello/blobs/" + p.layer.String() },
			want:    answer{http.StatusNotFound, "BLOB_UNKNOWN", "not in the registry"},
			problem: func(string, pushed) string { return "hello:v1" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, first := open(t, dir)
			p := pushBroken(t, first)
			if err := tt.damage(t, dir, p); err != nil {
				t.Fatal(err)
			}

			reg, addr := open(t, dir)
			checkGoodServes(t, addr)
			got := get(t, addr, tt.path(p))
			if got.status != tt.want.status || got.code != tt.want.code || !strings.Contains(got.message, tt.want.message) {
				t.Errorf("GET %s = %+v; want %d %s with %q", tt.path(p), got, tt.want.status, tt.want.code, tt.want.message)
			}
			if tt.problem != nil && !hasProblem(reg, tt.problem(dir, p)) {
				t.Errorf("Problems() = %v; want one for %s", reg.Problems(), tt.problem(dir, p))
			}
			// Pushing again repairs the entry: the layer (which clients skip
			// when the manifest is there), then the image.
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
		})
	}
}

func truncate(path string, size int64) error { return os.Truncate(path, size) }

// rewrite replaces the first old in path's content with new.
func rewrite(path, old, new string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o600)
}
