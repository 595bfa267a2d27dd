package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/cutover/cutover/internal/runtime"
)

// Labels the driver puts on every service it creates.
const (
	labelManaged   = "cutover.managed"
	labelApp       = "cutover.app"
	labelRevision  = "cutover.revision"
	labelTask      = "cutover.task"
	labelPort      = "cutover.port"
	labelPublished = "cutover.published-port"
	labelExit      = "cutover.exit"
	labelOwner     = "cutover.owner"
)

// ConstraintLabel prefixes the TaskSpec labels that are placement
// constraints: the label's value is a Swarm constraint expression.
const ConstraintLabel = "cutover.constraint"

// servicePrefix prefixes each task id to name its service.
const servicePrefix = "cutover-"

// Defaults for Options.
const (
	defaultStartCheck   = 500 * time.Millisecond
	defaultStartTimeout = 2 * time.Minute
	defaultPollInterval = 500 * time.Millisecond
	defaultStopTimeout  = 30 * time.Second
)

// PortRange is an inclusive range of host ports.
type PortRange struct {
	First, Last int
}

// Options configure a Driver. The zero value is usable against the local
// Engine when it is a Swarm manager.
type Options struct {
	// Client talks to a Swarm manager's Engine. When nil, New makes one
	// from the environment (DOCKER_HOST etc.) and Close closes it.
	Client *client.Client
	Logger *slog.Logger
	// PortRange holds the host ports published for tasks, on every node;
	// default 20000-29999. The proxy must reach the nodes on these ports.
	PortRange PortRange
	// NodeAddrs maps a node ID or hostname to the address the proxy reaches
	// it on. By default a node's address is the one Swarm reports for it
	// (the address it joined from).
	NodeAddrs map[string]string
	// RegistryAuth is sent with each new service (the X-Registry-Auth
	// value, base64url JSON of registry.AuthConfig) so that nodes can pull
	// from a registry that needs a credential, such as cutover's own.
	RegistryAuth string
	// StartCheck is how long Start watches a task once it runs: one that
	// exits within it is reported as runtime.ErrStartFailed. Default 500ms.
	StartCheck time.Duration
	// StartTimeout bounds how long Start waits for Swarm to place and run
	// the task (image pulls included); a task still pending then, e.g. for
	// lack of a node that meets its constraints, fails with Swarm's reason.
	// Default 2m.
	StartTimeout time.Duration
	// PollInterval is how often Wait asks Swarm about a task. Default 500ms.
	PollInterval time.Duration
	// Owner, when set, is put on every service as the label cutover.owner,
	// and List returns only services with it: several cutover daemons can
	// share one swarm without adopting (or stopping) each other's tasks.
	Owner string
}

// Driver runs tasks as Swarm services. It implements runtime.Driver.
type Driver struct {
	client       *client.Client
	ownClient    bool
	log          *slog.Logger
	ports        PortRange
	nodeAddrs    map[string]string
	registryAuth string
	startCheck   time.Duration
	startTimeout time.Duration
	poll         time.Duration
	owner        string

	// portMu serialises port picking and service creation in this
	// process, so that two Starts do not pick the same free port.
	portMu sync.Mutex
}

var _ runtime.Driver = (*Driver)(nil)

// New returns a Driver once the Engine answers and is a Swarm manager.
func New(ctx context.Context, opts Options) (*Driver, error) {
	d := &Driver{
		client:       opts.Client,
		log:          opts.Logger,
		ports:        opts.PortRange,
		nodeAddrs:    opts.NodeAddrs,
		registryAuth: opts.RegistryAuth,
		startCheck:   opts.StartCheck,
		startTimeout: opts.StartTimeout,
		poll:         opts.PollInterval,
		owner:        opts.Owner,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.ports == (PortRange{}) {
		d.ports = PortRange{First: 20000, Last: 29999}
	}
	if d.ports.First < 1 || d.ports.Last > 65535 || d.ports.First > d.ports.Last {
		return nil, fmt.Errorf("swarm driver: port range %d-%d: want 1 <= first <= last <= 65535", d.ports.First, d.ports.Last)
	}
	if d.startCheck <= 0 {
		d.startCheck = defaultStartCheck
	}
	if d.startTimeout <= 0 {
		d.startTimeout = defaultStartTimeout
	}
	if d.poll <= 0 {
		d.poll = defaultPollInterval
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
	if _, err := d.client.SwarmInspect(ctx, client.SwarmInspectOptions{}); err != nil {
		d.Close()
		return nil, fmt.Errorf("Docker Engine at %s is not a Swarm manager (run \"docker swarm init\" or point DOCKER_HOST at a manager): %w", d.client.DaemonHost(), err)
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

// serviceName is the name of the service that runs task id.
func serviceName(id string) string {
	return servicePrefix + id
}

// notFound turns the Engine's "no such service" into runtime.ErrNotFound.
func notFound(id string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("task %s: %w", id, runtime.ErrNotFound)
	}
	return err
}

// nodeAddress is where the proxy reaches node's published ports.
func (d *Driver) nodeAddress(id, hostname, reported string) string {
	if a, ok := d.nodeAddrs[id]; ok {
		return a
	}
	if a, ok := d.nodeAddrs[hostname]; ok {
		return a
	}
	if ip := net.ParseIP(reported); ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return reported
}

// cleanupContext is for undoing a half-done Start: it outlives ctx being
// cancelled, but not by much.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// errGone is returned by the task lookup when the service has no task.
var errGone = errors.New("service has no task")
