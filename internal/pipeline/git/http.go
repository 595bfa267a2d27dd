package git

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// DefaultBackend is where Debian installs git-http-backend.
const DefaultBackend = "/usr/lib/git-core/git-http-backend"

// ErrUnknownRepo: a request names a repository the server does not serve.
var ErrUnknownRepo = errors.New("no such repository")

// RefUpdate is one ref a push changed. Old is "" for a new ref and New
// is "" for a deleted one.
type RefUpdate struct {
	Ref      string
	Old, New string
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Root holds the bare repositories, as <name>.git.
	Root string
	// Prefix is the URL path the server is mounted at, e.g. "/git".
	Prefix string
	// Backend is git-http-backend's path; default DefaultBackend.
	Backend string
	// Authorize checks a request's credentials for repository name and
	// returns the user to record as the pusher. An error answers 401.
	Authorize func(r *http.Request, name string) (user string, err error)
	// Open is called before a repository is served; it creates it when
	// the name is known (see InitBare) and returns ErrUnknownRepo when
	// not.
	Open func(ctx context.Context, name string) error
	// Pushed is called after a push changed refs, with the pusher.
	Pushed func(name, user string, updates []RefUpdate)
	Logger *slog.Logger
}

// Server serves bare repositories over git's smart HTTP protocol through
// git-http-backend, behind HTTP basic authentication. After a push it
// compares the repository's refs with those before, so that it learns
// what was pushed without installing hooks into the repository.
type Server struct {
	opts ServerOptions

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per repository: one push at a time
}

// NewServer returns a Server.
func NewServer(opts ServerOptions) *Server {
	if opts.Backend == "" {
		opts.Backend = DefaultBackend
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	return &Server{opts: opts, locks: make(map[string]*sync.Mutex)}
}

var repoPath = regexp.MustCompile(`^/([A-Za-z0-9][A-Za-z0-9_-]*)\.git(/.*)?$`)

// ServeHTTP serves a request for <Prefix>/<name>.git/...
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := repoPath.FindStringSubmatch(strings.TrimPrefix(r.URL.Path, s.opts.Prefix))
	if m == nil {
		http.Error(w, "not a repository path: use /git/<app>.git", http.StatusNotFound)
		return
	}
	name := m[1]
	user, err := s.opts.Authorize(r, name)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="cutover"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if err := s.opts.Open(r.Context(), name); errors.Is(err, ErrUnknownRepo) {
		http.Error(w, fmt.Sprintf("no app %q", name), http.StatusNotFound)
		return
	} else if err != nil {
		s.opts.Logger.Error("opening repository", "repo", name, "err", err)
		http.Error(w, "opening the repository failed", http.StatusInternalServerError)
		return
	}

	backend := &cgi.Handler{
		Path:       s.opts.Backend,
		Root:       s.opts.Prefix,
		Env:        []string{"GIT_PROJECT_ROOT=" + s.opts.Root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + user},
		InheritEnv: []string{"PATH", "HOME"},
		Logger:     slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
		backend.ServeHTTP(w, r)
		return
	}

	lock := s.lock(name)
	lock.Lock()
	defer lock.Unlock()
	dir := filepath.Join(s.opts.Root, name+".git")
	before, err := Refs(r.Context(), dir)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	backend.ServeHTTP(w, r)
	after, err := Refs(context.WithoutCancel(r.Context()), dir)
	if err != nil {
		s.opts.Logger.Error("reading refs after a push", "repo", name, "err", err)
		return
	}
	if updates := diffRefs(before, after); len(updates) > 0 && s.opts.Pushed != nil {
		s.opts.Pushed(name, user, updates)
	}
}

func (s *Server) lock(name string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[name]
	if l == nil {
		l = new(sync.Mutex)
		s.locks[name] = l
	}
	return l
}

// diffRefs lists the refs that differ between before and after.
func diffRefs(before, after map[string]string) []RefUpdate {
	var updates []RefUpdate
	for ref, sha := range after {
		if before[ref] != sha {
			updates = append(updates, RefUpdate{Ref: ref, Old: before[ref], New: sha})
		}
	}
	for ref, sha := range before {
		if _, ok := after[ref]; !ok {
			updates = append(updates, RefUpdate{Ref: ref, Old: sha})
		}
	}
	return updates
}
