package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// maxManifestBytes bounds a manifest body; the distribution spec
// recommends registries accept at least 4 MiB.
const maxManifestBytes = 4 << 20

// Defaults of Options' upload limits.
const (
	DefaultUploadTTL      = time.Hour
	DefaultMaxUploads     = 64
	DefaultMaxUploadBytes = 16 << 30
	// uploadReadIdle is how long an upload's request may send nothing
	// before it fails.
	uploadReadIdle = 5 * time.Minute
)

// Options configure a registry.
type Options struct {
	// Dir holds blobs (Dir/blobs), manifests (Dir/manifests) and uploads
	// in progress (Dir/uploads). It is created if missing. Required.
	Dir string
	// Authorize says whether r may proceed. push is true for requests that
	// change the registry (uploads, manifest PUTs, deletes) and false for
	// reads (pulls, tag lists, the /v2/ version check). Required: a
	// registry without credentials is not offered.
	Authorize func(r *http.Request, push bool) bool
	// Logger receives stored entries that cannot be served, damaged blobs,
	// failed writes and expired uploads; requests themselves are not
	// logged. Default: discard.
	Logger *slog.Logger
	// UploadTTL is how long an upload session may go without a request
	// before Run removes it. Default: DefaultUploadTTL.
	UploadTTL time.Duration
	// MaxUploads bounds the upload sessions open at once. Default:
	// DefaultMaxUploads.
	MaxUploads int
	// MaxUploadBytes bounds the bytes that unfinished uploads hold on disk
	// together. Default: DefaultMaxUploadBytes.
	MaxUploadBytes int64
}

// Registry is the registry's HTTP handler, to be mounted at the site root
// so that it serves /v2/ (the distribution API's fixed prefix).
type Registry struct {
	authorize func(r *http.Request, push bool) bool
	log       *slog.Logger
	blobs     *blobStore
	manifests *manifestStore
	uploads   *uploads
	problems  []Problem // found by New
}

// New opens the registry in opts.Dir. Stored entries that cannot be
// served are logged and listed by Problems, and answer an error; they do
// not make New fail. Uploads a previous process left unfinished are
// removed.
func New(opts Options) (*Registry, error) {
	if opts.Dir == "" {
		return nil, errors.New("registry: Options.Dir is required")
	}
	if opts.Authorize == nil {
		return nil, errors.New("registry: Options.Authorize is required")
	}
	opts = withDefaults(opts)
	up := filepath.Join(opts.Dir, "uploads")
	if err := os.RemoveAll(up); err != nil {
		return nil, fmt.Errorf("registry: removing unfinished uploads: %w", err)
	}
	r := &Registry{
		authorize: opts.Authorize,
		log:       opts.Logger,
		blobs:     newBlobStore(filepath.Join(opts.Dir, "blobs"), opts.Logger),
		manifests: newManifestStore(filepath.Join(opts.Dir, "manifests")),
		uploads: &uploads{dir: up, ttl: opts.UploadTTL, max: opts.MaxUploads, maxBytes: opts.MaxUploadBytes,
			readIdle: uploadReadIdle, sessions: map[string]*upload{}},
	}
	for _, dir := range []string{opts.Dir, r.blobs.dir, r.manifests.dir, up} {
		if err := makePrivateDir(dir); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	problems, err := r.manifests.load(r.blobs)
	if err != nil {
		return nil, fmt.Errorf("registry: loading manifests from %s: %w", r.manifests.dir, err)
	}
	for _, p := range problems {
		r.log.Error("registry: a stored entry cannot be served as it was", "entry", p.What, "file", p.Path, "err", p.Err)
	}
	r.problems = problems
	return r, nil
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UploadTTL <= 0 {
		opts.UploadTTL = DefaultUploadTTL
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = DefaultMaxUploads
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	return opts
}

// makePrivateDir makes dir, readable by its owner only.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restricting %s: %w", dir, err)
	}
	return nil
}

// Problems lists the stored entries New could not load as they were.
func (r *Registry) Problems() []Problem { return slices.Clone(r.problems) }

// Run removes upload sessions idle for longer than Options.UploadTTL,
// checking every quarter of it (at most every second), until ctx is done.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(max(r.uploads.ttl/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n := r.uploads.expire(now); n > 0 {
				r.log.Info("registry: removed abandoned uploads", "count", n, "idle", r.uploads.ttl)
			}
		}
	}
}

func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	push := req.Method != http.MethodGet && req.Method != http.MethodHead
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if !r.authorize(req, push) {
		w.Header().Set("WWW-Authenticate", `Basic realm="cutover registry"`)
		writeError(w, errorf(http.StatusUnauthorized, "UNAUTHORIZED", "authentication required"))
		return
	}
	rt, err := parseRoute(req.URL.Path)
	if err != nil {
		writeError(w, err)
		return
	}
	if h := r.handler(rt.kind, req.Method); h != nil {
		h(w, req, rt)
		return
	}
	writeError(w, errorf(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on %s", req.Method, req.URL.Path))
}
