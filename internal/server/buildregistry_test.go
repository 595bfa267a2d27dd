package server

import (
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBuildRegistryCredential: a build's credential pushes to and pulls
// from its app's repository, and nothing else: not another repository,
// not the catalog, and nothing once revoked.
func TestBuildRegistryCredential(t *testing.T) {
	s := startIn(t, t.TempDir())
	defer closeServer(t, s)
	reg, revoke, err := s.buildRegistry("hello", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Host != s.APIAddr().String() || reg.URI() != s.APIAddr().String()+"/hello" {
		t.Errorf("registry %+v; want host %s, repository hello", reg, s.APIAddr())
	}
	build := remote.WithAuth(&authn.Basic{Username: "AWS", Password: reg.Password})
	at := func(r string) name.Reference {
		ref, err := name.ParseReference(reg.Host+"/"+r, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	layer, err := crane.Layer(map[string][]byte{"app.js": []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, layer)
	if err := remote.Write(at("hello:v1"), img, build); err != nil {
		t.Fatalf("push to the app's repository: %v", err)
	}
	if _, err := remote.Image(at("hello:v1"), build); err != nil {
		t.Errorf("pull from the app's repository: %v", err)
	}
	if err := remote.Write(at("other:v1"), img, build); !isStatus(err, 401) {
		t.Errorf("push to another repository: %v; want 401", err)
	}
	if _, err := remote.Catalog(t.Context(), at("hello:v1").Context().Registry, build); !isStatus(err, 401) {
		t.Errorf("the catalog: %v; want 401", err)
	}
	revoke()
	if err := remote.Write(at("hello:v2"), img, build); !isStatus(err, 401) {
		t.Errorf("push with a revoked credential: %v; want 401", err)
	}
}
