package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// Labels the driver puts on every container it creates. List finds tasks
// by labelManaged; the others map a container back to its runtime.Task.
const (
	labelManaged  = "cutover.managed"
	labelApp      = "cutover.app"
	labelRevision = "cutover.revision"
	labelTask     = "cutover.task"
	labelPort     = "cutover.port"
	labelOwner    = "cutover.owner"
)

// labelSwarmService is set by the Engine on the containers of Swarm
// services.
const labelSwarmService = "com.docker.swarm.service.id"

// containerPrefix prefixes each task id to name its container.
const containerPrefix = "cutover-"

// Defaults for Options.
const (
	defaultHostIP      = "127.0.0.1"
	defaultStartCheck  = 500 * time.Millisecond
	defaultStopTimeout = 30 * time.Second
)

// Options configure a Driver. The zero value is usable.
type Options struct {
	// Client talks to the Engine. When nil, New makes one from the
	// environment (DOCKER_HOST etc., default unix:///var/run/docker.sock)
	// and Close closes it.
	Client *client.Client
	Logger *slog.Logger
	// HostIP is the host address task ports are published on; default
	// "127.0.0.1".
	HostIP string
	// StartCheck is how long Start watches a new container: one that exits
	// within it is reported as runtime.ErrStartFailed. Start takes at least
	// this long. Default 500ms.
	StartCheck time.Duration
	// Network is the Docker network containers join; empty means the
	// Engine's default bridge.
	Network string
	// Owner, when set, is put on every container as the label
	// cutover.owner, and List returns only containers with it: several
	// cutover daemons can share one Engine without adopting (or stopping)
	// each other's tasks.
	Owner string
}

// Driver runs tasks as Docker containers. It implements runtime.Driver.
type Driver struct {
	client     *client.Client
	ownClient  bool
	log        *slog.Logger
	hostIP     netip.Addr
	startCheck time.Duration
	network    string
	owner      string
}

var _ runtime.Driver = (*Driver)(nil)

// New returns a Driver once the Engine answers a ping, negotiating the API
// version down to the Engine's (1.41 for Docker 20.10).
func New(ctx context.Context, opts Options) (*Driver, error) {
	if opts.HostIP == "" {
		opts.HostIP = defaultHostIP
	}
	hostIP, err := netip.ParseAddr(opts.HostIP)
	if err != nil {
		return nil, fmt.Errorf("docker driver: host IP %q: %w", opts.HostIP, err)
	}
	d := &Driver{
		client:     opts.Client,
		log:        opts.Logger,
		hostIP:     hostIP,
		startCheck: opts.StartCheck,
		network:    opts.Network,
		owner:      opts.Owner,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.startCheck <= 0 {
		d.startCheck = defaultStartCheck
	}
	if d.client == nil {
		c, err := client.New(client.FromEnv)
		if err != nil {
			return nil, fmt.Errorf("creating Docker Engine client: %w", err)
		}
		d.client = c
		d.ownClient = true
	}
	if _, err := d.client.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		d.Close()
		return nil, fmt.Errorf("connecting to Docker Engine at %s: %w", d.client.DaemonHost(), err)
	}
	return d, nil
}

// Close releases the Engine client when New created it. Tasks keep running.
func (d *Driver) Close() error {
	if d.ownClient {
		return d.client.Close()
	}
	return nil
}

// containerName is the name of the container that runs task id.
func containerName(id string) string {
	return containerPrefix + id
}

// notFound turns the Engine's "no such container" into runtime.ErrNotFound.
func notFound(id string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("task %s: %w", id, runtime.ErrNotFound)
	}
	return err
}

// cleanupContext is for undoing a half-done Start: it outlives ctx being
// cancelled, but not by much.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// ErrImageNotFound is returned (together with runtime.ErrStartFailed) when
// a task's image is not in the Engine's image store. The driver never
// pulls: images are built or pulled before a deploy.
var ErrImageNotFound = errors.New("image not found locally")

// imageNotFoundError says which image is missing and how to fix it.
type imageNotFoundError struct {
	image string
}

func (e *imageNotFoundError) Error() string {
	return fmt.Sprintf("image %s not found locally; build or pull it first", e.image)
}

func (e *imageNotFoundError) Unwrap() []error {
	return []error{ErrImageNotFound, runtime.ErrStartFailed}
}
