package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// maxManifestBytes bounds a manifest body; the distribution spec
// recommends registries accept at least 4 MiB.
const maxManifestBytes = 4 << 20

// Options configure a registry handler.
type Options struct {
	// Dir holds blobs (Dir/blobs) and manifests (Dir/manifests). It is
	// created if missing. Required.
	Dir string
	// Authorize says whether r may proceed. push is true for requests that
	// change the registry (uploads, manifest PUTs, deletes) and false for
	// reads (pulls, tag lists, the /v2/ version check). Required: a
	// registry without credentials is not offered.
	Authorize func(r *http.Request, push bool) bool
	// Logger receives errors persisting manifests; requests themselves are
	// not logged. Default: discard.
	Logger *slog.Logger
}

// New returns the registry's handler, to be mounted at the site root so
// that it serves /v2/ (the distribution API's fixed prefix). Stored
// manifests are loaded before it returns.
func New(opts Options) (http.Handler, error) {
	if opts.Dir == "" {
		return nil, errors.New("registry: Options.Dir is required")
	}
	if opts.Authorize == nil {
		return nil, errors.New("registry: Options.Authorize is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	blobs := filepath.Join(opts.Dir, "blobs")
	store := &manifestStore{dir: filepath.Join(opts.Dir, "manifests")}
	for _, dir := range []string{blobs, store.dir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("registry: creating %s: %w", dir, err)
		}
	}
	inner := ggcr.New(
		ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(blobs)),
		ggcr.Logger(log.New(io.Discard, "", 0)),
	)
	if err := store.replay(inner); err != nil {
		return nil, fmt.Errorf("registry: loading manifests from %s: %w", store.dir, err)
	}
	return &handler{inner: inner, store: store, authorize: opts.Authorize, log: opts.Logger}, nil
}

// handler checks credentials and persists manifest changes around the
// in-memory registry.
type handler struct {
	inner     http.Handler
	store     *manifestStore
	authorize func(r *http.Request, push bool) bool
	log       *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	push := r.Method != http.MethodGet && r.Method != http.MethodHead
	if !h.authorize(r, push) {
		w.Header().Set("WWW-Authenticate", `Basic realm="cutover registry"`)
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		return
	}
	repo, ref, ok := manifestPath(r.URL.Path)
	if !ok || (r.Method != http.MethodPut && r.Method != http.MethodDelete) {
		h.inner.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodPut:
		h.putManifest(w, r, repo, ref)
	case http.MethodDelete:
		h.deleteManifest(w, r, repo, ref)
	}
}

// putManifest stores the manifest once the registry accepted it, and
// answers the client only after it is on disk.
func (h *handler) putManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManifestBytes))
	if err != nil {
		http.Error(w, "reading manifest: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	h.inner.ServeHTTP(rec, r)
	if rec.Code == http.StatusCreated {
		m := storedManifest{Repo: repo, Ref: ref, ContentType: r.Header.Get("Content-Type"), Body: body}
		if err := h.store.save(m); err != nil {
			h.log.Error("registry: persisting manifest", "repo", repo, "ref", ref, "err", err)
			http.Error(w, "persisting manifest: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	copyResponse(w, rec)
}

func (h *handler) deleteManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	rec := httptest.NewRecorder()
	h.inner.ServeHTTP(rec, r)
	if rec.Code == http.StatusAccepted {
		if err := h.store.remove(repo, ref); err != nil {
			h.log.Error("registry: deleting stored manifest", "repo", repo, "ref", ref, "err", err)
			http.Error(w, "deleting stored manifest: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	copyResponse(w, rec)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// manifestPath splits /v2/<repo>/manifests/<ref>, the way the inner
// registry does.
func manifestPath(path string) (repo, ref string, ok bool) {
	elem := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(elem) < 4 || elem[0] != "v2" || elem[len(elem)-2] != "manifests" || elem[len(elem)-1] == "" {
		return "", "", false
	}
	return strings.Join(elem[1:len(elem)-2], "/"), elem[len(elem)-1], true
}
