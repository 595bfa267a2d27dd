package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// load reads every stored manifest. A file that cannot be read, or whose
// manifest is not what its name says, is a Problem: when the file still
// names its repository and reference, that entry answers an error, and
// everything else is served. Manifests whose references are missing are
// served as they are and reported too.
func (s *manifestStore) load(blobs *blobStore) ([]Problem, error) {
	files, err := filepath.Glob(filepath.Join(s.dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing stored manifests: %w", err)
	}
	var problems []Problem
	for _, file := range files {
		if p, ok := s.loadFile(file); !ok {
			problems = append(problems, p)
		}
	}
	return append(problems, s.checkReferences(blobs)...), nil
}

// loadFile adds the manifest stored in file.
func (s *manifestStore) loadFile(file string) (Problem, bool) {
	p := Problem{Path: file, What: filepath.Base(file)}
	data, err := os.ReadFile(file)
	if err != nil {
		p.Err = fmt.Errorf("reading: %w", err)
		return p, false
	}
	var m storedManifest
	err = json.Unmarshal(data, &m)
	if err != nil {
		m.Repo, m.Ref = damagedKeys(data)
		err = fmt.Errorf("decoding: %w", err)
	}
	if m.Repo == "" || !validRepo(m.Repo) || !validRef(m.Ref) || s.path(m.Repo, m.Ref) != file {
		p.Err = errors.Join(err, errors.New("the file does not name the repository and reference it is stored as"))
		return p, false
	}
	p.What = entryName(m.Repo, m.Ref)
	if err == nil {
		err = checkStored(m)
	}
	if err != nil {
		p.Err = err
		if _, taken := s.repos[m.Repo][m.Ref]; !taken {
			s.set(m.Repo, m.Ref, entry{err: err})
		}
		return p, false
	}
	man := newManifest(m.ContentType, m.Body)
	s.set(m.Repo, m.Ref, entry{m: man})
	if old, taken := s.repos[m.Repo][man.digest]; !taken || old.err != nil {
		s.set(m.Repo, man.digest, entry{m: man}) // a tag's manifest is also found by digest
	}
	return p, true
}

// checkStored checks that a decoded file holds a JSON manifest with the
// digest it was stored under.
func checkStored(m storedManifest) error {
	if !json.Valid(m.Body) {
		return errors.New("the manifest is not JSON")
	}
	got := digestOf(m.Body)
	for _, want := range []string{m.Ref, m.Digest} {
		if isDigest(want) && got != want {
			return fmt.Errorf("the manifest's content has digest %s, not %s", got, want)
		}
	}
	return nil
}

// damagedKeys reads the repository and reference a damaged (e.g.
// truncated) file starts with, if it got that far.
func damagedKeys(data []byte) (repo, ref string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", ""
	}
	for repo == "" || ref == "" {
		k, err := dec.Token()
		if err != nil {
			return "", ""
		}
		v, err := dec.Token()
		if err != nil {
			return "", ""
		}
		s, _ := v.(string)
		switch k {
		case "repo":
			repo = s
		case "ref":
			ref = s
		}
	}
	return repo, ref
}

func entryName(repo, ref string) string {
	if isDigest(ref) {
		return repo + "@" + ref
	}
	return repo + ":" + ref
}

// checkReferences reports manifests that list manifests or blobs the
// registry does not hold.
func (s *manifestStore) checkReferences(blobs *blobStore) []Problem {
	var problems []Problem
	for _, repo := range s.repositories() {
		refs := s.repos[repo]
		for _, ref := range slices.Sorted(maps.Keys(refs)) {
			e := refs[ref]
			if e.m == nil || (isDigest(ref) && hasTag(refs, ref)) {
				continue // reported under one name: a tag when there is one
			}
			if err := s.missing(repo, e.m, blobs); err != nil {
				problems = append(problems, Problem{Path: s.path(repo, ref), What: entryName(repo, ref), Err: err})
			}
		}
	}
	return problems
}

// hasTag says whether a tag in refs points to digest.
func hasTag(refs map[string]entry, digest string) bool {
	for r, e := range refs {
		if !isDigest(r) && e.m != nil && e.m.digest == digest {
			return true
		}
	}
	return false
}

// missing names the manifests and blobs m lists that repo lacks.
func (s *manifestStore) missing(repo string, m *manifest, blobs *blobStore) error {
	children, layers, err := references(m)
	if err != nil {
		return err
	}
	var gone []string
	for _, d := range children {
		if e, ok := s.repos[repo][d]; !ok || e.m == nil {
			gone = append(gone, "manifest "+d)
		}
	}
	for _, d := range layers {
		if !blobs.exists(d) {
			gone = append(gone, "blob "+d)
		}
	}
	if len(gone) > 0 {
		return fmt.Errorf("it lists %s, which the registry does not hold", strings.Join(gone, ", "))
	}
	return nil
}

// descriptor is the part of an OCI descriptor the registry looks at.
type descriptor struct {
	MediaType types.MediaType `json:"mediaType"`
	Digest    string          `json:"digest"`
}

// references returns the manifests an index lists and the blobs an image
// manifest lists, leaving out blobs that are not to be distributed.
func references(m *manifest) (children, layers []string, err error) {
	var doc struct {
		Manifests []descriptor `json:"manifests"`
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(m.body, &doc); err != nil {
		return nil, nil, fmt.Errorf("decoding the manifest: %w", err)
	}
	for _, d := range doc.Manifests {
		children = append(children, d.Digest)
	}
	if doc.Config != nil {
		doc.Layers = append(doc.Layers, *doc.Config)
	}
	for _, d := range doc.Layers {
		if d.MediaType == "" || d.MediaType.IsDistributable() {
			layers = append(layers, d.Digest)
		}
	}
	return children, layers, nil
}
