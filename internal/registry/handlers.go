package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
)

type handlerFunc func(w http.ResponseWriter, req *http.Request, rt route)

// handler returns what serves method on a route of kind k, nil if none.
func (r *Registry) handler(k kind, method string) handlerFunc {
	read := method == http.MethodGet || method == http.MethodHead
	switch {
	case k == routeBase && read:
		return func(w http.ResponseWriter, _ *http.Request, _ route) { w.WriteHeader(http.StatusOK) }
	case k == routeCatalog && method == http.MethodGet:
		return r.catalog
	case k == routeTags && method == http.MethodGet:
		return r.tagList
	case k == routeManifest && read:
		return r.getManifest
	case k == routeManifest && method == http.MethodPut:
		return r.putManifest
	case k == routeManifest && method == http.MethodDelete:
		return r.deleteManifest
	case k == routeBlob && read:
		return func(w http.ResponseWriter, req *http.Request, rt route) { r.blobs.serve(w, req, rt.ref) }
	case k == routeBlob && method == http.MethodDelete:
		return r.deleteBlob
	case k == routeUploads && method == http.MethodPost:
		return r.startUpload
	case k == routeUpload:
		return r.uploadHandler(method)
	}
	return nil
}

func (r *Registry) uploadHandler(method string) handlerFunc {
	switch method {
	case http.MethodGet:
		return r.uploadStatus
	case http.MethodPatch:
		return r.patchUpload
	case http.MethodPut:
		return r.putUpload
	case http.MethodDelete:
		return r.cancelUpload
	}
	return nil
}

func (r *Registry) catalog(w http.ResponseWriter, req *http.Request, _ route) {
	names, err := paginate(r.manifests.repositories(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, struct {
		Repositories []string `json:"repositories"`
	}{names})
}

func (r *Registry) tagList(w http.ResponseWriter, req *http.Request, rt route) {
	tags, ok := r.manifests.tags(rt.repo)
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "NAME_UNKNOWN", "repository %s is not in the registry", rt.repo))
		return
	}
	tags, err := paginate(tags, req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.repo, tags})
}

// paginate applies the ?last= and ?n= parameters to sorted names.
func paginate(names []string, req *http.Request) ([]string, *apiError) {
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(names, last)
		for i < len(names) && names[i] <= last {
			i++
		}
		names = names[i:]
	}
	if s := q.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, errorf(http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid n=%q", s)
		}
		names = names[:min(n, len(names))]
	}
	return names, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (r *Registry) getManifest(w http.ResponseWriter, req *http.Request, rt route) {
	m, err := r.manifests.get(rt.repo, rt.ref)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", m.contentType)
	w.Header().Set("Docker-Content-Digest", m.digest)
	w.Header().Set("ETag", `"`+m.digest+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
	if req.Method == http.MethodGet {
		w.Write(m.body)
	}
}

// putManifest stores a manifest whose references the registry holds, and
// answers once it is on disk.
func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, rt route) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxManifestBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, errorf(http.StatusRequestEntityTooLarge, "MANIFEST_INVALID", "the manifest is larger than %d bytes", maxManifestBytes))
		return
	}
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "MANIFEST_INVALID", "reading the manifest: %v", err))
		return
	}
	m, aerr := r.checkManifest(rt, req.Header.Get("Content-Type"), body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if err := r.manifests.put(rt.repo, rt.ref, m); err != nil {
		r.log.Error("registry: persisting a manifest", "repo", rt.repo, "ref", rt.ref, "err", err)
		writeError(w, errorf(http.StatusInternalServerError, "UNKNOWN", "%v", err))
		return
	}
	w.Header().Set("Location", "/v2/"+rt.repo+"/manifests/"+m.digest)
	w.Header().Set("Docker-Content-Digest", m.digest)
	w.WriteHeader(http.StatusCreated)
}

// checkManifest refuses a manifest that is not JSON, does not match the
// digest it is pushed as, or lists manifests or blobs the registry lacks
// (as docker/distribution does).
func (r *Registry) checkManifest(rt route, contentType string, body []byte) (*manifest, *apiError) {
	if !json.Valid(body) {
		return nil, errorf(http.StatusBadRequest, "MANIFEST_INVALID", "the manifest is not JSON")
	}
	var doc struct {
		MediaType string `json:"mediaType"`
	}
	json.Unmarshal(body, &doc)
	if contentType == "" {
		contentType = doc.MediaType
	}
	m := newManifest(contentType, body)
	if isDigest(rt.ref) && rt.ref != m.digest {
		return nil, errorf(http.StatusBadRequest, "DIGEST_INVALID", "the manifest's digest is %s, not %s", m.digest, rt.ref)
	}
	children, blobs, err := references(m)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "MANIFEST_INVALID", "%v", err)
	}
	for _, d := range children {
		if !r.manifests.has(rt.repo, d) {
			return nil, errorf(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "manifest %s, which the index lists, is not in repository %s", d, rt.repo)
		}
	}
	for _, d := range blobs {
		if !r.blobs.exists(d) {
			return nil, errorf(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob %s, which the manifest lists, is not in the registry", d)
		}
	}
	return m, nil
}

func (r *Registry) deleteManifest(w http.ResponseWriter, _ *http.Request, rt route) {
	if err := r.manifests.remove(rt.repo, rt.ref); err != nil {
		if err.status >= 500 {
			r.log.Error("registry: deleting a manifest", "repo", rt.repo, "ref", rt.ref, "err", err)
		}
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (r *Registry) deleteBlob(w http.ResponseWriter, _ *http.Request, rt route) {
	if err := r.blobs.remove(rt.ref); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// uploadError is the answer to a failed write of an upload.
func uploadError(err error) *apiError {
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, errUploadLimit):
		return errorf(http.StatusRequestEntityTooLarge, "BLOB_UPLOAD_INVALID", "%v", err)
	case errors.As(err, &pathErr):
		return errorf(http.StatusInternalServerError, "UNKNOWN", "%v", err)
	}
	return errorf(http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "reading the request body: %v", err)
}

// uploadHeaders tell the client where session s continues and what it
// holds.
func uploadHeaders(w http.ResponseWriter, s *upload) {
	w.Header().Set("Location", "/v2/"+s.repo+"/blobs/uploads/"+s.id)
	w.Header().Set("Docker-Upload-UUID", s.id)
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(s.size-1, 0)))
}
