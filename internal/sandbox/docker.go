package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	pathpkg "path"
	"regexp"
	"strings"
	"time"
)

// DockerFilter stands between a build and the Docker Engine, as
// CodeBuild's privileged mode gives a build an engine: whoever reaches the
// Engine's own socket is root on the host, so a build gets this filter's
// socket instead. It lets through what building, tagging, pulling and
// pushing an image needs, and refuses everything else (containers, exec,
// volumes, networks, swarm, plugins, deleting images) with 403 and a
// message that says so. An image build's own RUN steps run in the
// Engine's build containers without host mounts or host networking.
type DockerFilter struct {
	proxy *httputil.ReverseProxy
}

// NewDockerFilter returns a filter in front of the Engine listening on the
// unix socket engine.
func NewDockerFilter(engine string) *DockerFilter {
	target := &url.URL{Scheme: "http", Host: "docker"}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1 // build and push progress streams
	rp.Transport = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", engine)
		},
	}
	return &DockerFilter{proxy: rp}
}

func (f *DockerFilter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := dockerRefusal(r.Method, r.URL.Path, r.URL.Query()); why != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		msg := fmt.Sprintf("cutover refused %s %s: %s; a build may only build, tag, pull and push images", r.Method, r.URL.Path, why)
		json.NewEncoder(w).Encode(map[string]string{"message": msg})
		return
	}
	f.proxy.ServeHTTP(w, r)
}

var (
	apiVersion = regexp.MustCompile(`^/v[0-9]+(\.[0-9]+)?/`)
	// The Engine's image routes; an image name may hold slashes.
	imageRoute = regexp.MustCompile(`^/images/(.+)/(json|history|tag|push)$`)
)

// dockerRefusal says why a request is refused; "" lets it through.
func dockerRefusal(method, path string, q url.Values) string {
	if pathpkg.Clean(path) != path {
		return "the path is not clean"
	}
	if loc := apiVersion.FindStringIndex(path); loc != nil {
		path = path[loc[1]-1:]
	}
	switch {
	case (method == http.MethodGet || method == http.MethodHead) && (path == "/_ping" || path == "/version" || path == "/info"):
		return ""
	case method == http.MethodPost && path == "/auth":
		return ""
	case method == http.MethodPost && path == "/build":
		return buildRefusal(q)
	case method == http.MethodPost && path == "/images/create":
		if q.Get("fromSrc") != "" {
			return "importing a file system is not an image pull"
		}
		return ""
	case method == http.MethodGet && (path == "/images/json" || strings.HasPrefix(path, "/distribution/")):
		return ""
	}
	if m := imageRoute.FindStringSubmatch(path); m != nil {
		read := m[2] == "json" || m[2] == "history"
		if read && method == http.MethodGet || !read && method == http.MethodPost {
			return ""
		}
	}
	return "not an image build's request"
}

// buildRefusal checks an image build's options: no host network, no
// cgroup of the host's choosing, no BuildKit session (its build
// containers are not filtered).
func buildRefusal(q url.Values) string {
	switch {
	case q.Get("networkmode") != "" && q.Get("networkmode") != "default" && q.Get("networkmode") != "bridge":
		return "network mode " + q.Get("networkmode") + " (only the default)"
	case q.Get("cgroupparent") != "":
		return "a cgroup parent"
	case q.Get("version") == "2":
		return "BuildKit (use the classic builder: DOCKER_BUILDKIT=0)"
	case q.Get("remote") != "":
		return "a remote build context (the Engine would fetch it as root, with the host's credentials)"
	}
	return ""
}

// ServeDocker serves h on a new unix socket at path that only the
// sandbox's user (and cutover) can connect to, until ctx ends.
func (s *Sandbox) ServeDocker(ctx context.Context, path string, h http.Handler) error {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listening for the build's Docker filter: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	if uid, gid := s.User(); uid >= 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			ln.Close()
			return err
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go srv.Serve(ln) // ends with ErrServerClosed
	return nil
}
