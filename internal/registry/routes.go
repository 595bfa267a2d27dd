package registry

import (
	"net/http"
	"regexp"
	"strings"
)

// kind is what a /v2/ path names.
type kind int

const (
	routeBase     kind = iota // /v2/
	routeCatalog              // /v2/_catalog
	routeTags                 // /v2/<repo>/tags/list
	routeManifest             // /v2/<repo>/manifests/<tag or digest>
	routeBlob                 // /v2/<repo>/blobs/<digest>
	routeUploads              // /v2/<repo>/blobs/uploads/
	routeUpload               // /v2/<repo>/blobs/uploads/<id>
)

// route is a parsed /v2/ path; ref is the tag, digest or upload id.
type route struct {
	kind      kind
	repo, ref string
}

// The distribution spec's grammar of names, tags and (sha256) digests,
// and the registry's upload ids.
var (
	repoPattern   = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagPattern    = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	uploadPattern = regexp.MustCompile(`^[a-f0-9]{32}$`)
)

func validRepo(s string) bool { return len(s) <= 255 && repoPattern.MatchString(s) }
func isDigest(s string) bool  { return digestPattern.MatchString(s) }
func validRef(s string) bool  { return isDigest(s) || tagPattern.MatchString(s) }

// parseRoute splits a /v2/ path and checks the names in it.
func parseRoute(path string) (route, *apiError) {
	p, ok := strings.CutPrefix(path, "/v2")
	switch {
	case !ok:
		return route{}, errorf(http.StatusNotFound, "NAME_UNKNOWN", "%s is not a registry path", path)
	case p == "" || p == "/":
		return route{kind: routeBase}, nil
	case p == "/_catalog":
		return route{kind: routeCatalog}, nil
	}
	rt, ok := splitRoute(strings.TrimPrefix(p, "/"))
	if !ok {
		return route{}, errorf(http.StatusNotFound, "NAME_UNKNOWN", "%s is not a registry path", path)
	}
	if !validRepo(rt.repo) {
		return route{}, errorf(http.StatusBadRequest, "NAME_INVALID", "invalid repository name %q", rt.repo)
	}
	switch {
	case rt.kind == routeManifest && !validRef(rt.ref):
		return route{}, errorf(http.StatusBadRequest, "TAG_INVALID", "invalid tag or digest %q", rt.ref)
	case rt.kind == routeBlob && !isDigest(rt.ref):
		return route{}, errorf(http.StatusBadRequest, "DIGEST_INVALID", "invalid or unsupported digest %q", rt.ref)
	case rt.kind == routeUpload && !uploadPattern.MatchString(rt.ref):
		return route{}, errorf(http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload %q is not in progress", rt.ref)
	}
	return rt, nil
}

// splitRoute finds the repository and reference in p, the path after
// /v2/; a reference never contains a slash.
func splitRoute(p string) (route, bool) {
	if repo, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return route{kind: routeTags, repo: repo}, true
	}
	if repo, ok := strings.CutSuffix(strings.TrimSuffix(p, "/"), "/blobs/uploads"); ok {
		return route{kind: routeUploads, repo: repo}, true
	}
	for _, sep := range []struct {
		infix string
		kind  kind
	}{{"/blobs/uploads/", routeUpload}, {"/manifests/", routeManifest}, {"/blobs/", routeBlob}} {
		i := strings.LastIndex(p, sep.infix)
		if i < 0 {
			continue
		}
		ref := p[i+len(sep.infix):]
		if ref == "" || strings.Contains(ref, "/") {
			continue
		}
		return route{kind: sep.kind, repo: p[:i], ref: ref}, true
	}
	return route{}, false
}

// Repository returns the repository a /v2/ path names, "" for the
// version check (/v2/), the catalog and paths that are not valid: what
// an Authorize that grants single repositories decides on.
func Repository(path string) string {
	rt, err := parseRoute(path)
	if err != nil {
		return ""
	}
	return rt.repo
}
