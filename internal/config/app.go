package config

import (
	"time"

	"github.com/cutover/cutover/internal/health"
	"github.com/cutover/cutover/internal/proxy"
)

// App is one application's cutover.yaml: how to build it, how to run it
// and how to deploy it. docs/cutover-yaml.md documents the format. The
// zero value of an optional field means its default; ParseApp fills
// defaults in, so consumers read the values as they are.
type App struct {
	Name string // letters, digits and '-'; names the target groups and tasks

	Source Source
	Build  Build

	Service   Service
	Health    health.Config
	Listeners Listeners
	Deploy    Deploy

	// Notifications are the webhooks called on deployment and pipeline
	// events (see notifications.go).
	Notifications []Notification

	// Dir is the directory cutover.yaml was read from; relative paths
	// (release dirs, hook commands) resolve against it.
	Dir string
	// Warnings name what was read but is not used (e.g. appspec fields
	// that only mean something on AWS).
	Warnings []string
}

// Source is where the app's code comes from.
type Source struct {
	Repo   string // a path or a git URL; default "."
	Branch string // default "main"
}

// Build names the buildspec that builds the app.
type Build struct {
	Spec string // default "buildspec.yml"
}

// Runtimes a service can run on.
const (
	RuntimeProcess = "process"
	RuntimeDocker  = "docker"
	// RuntimeSwarm runs the image as Swarm services, one per task, on
	// the swarm whose manager the Docker Engine is.
	RuntimeSwarm = "swarm"
)

// Service is how to run the app: the ECS service definition.
type Service struct {
	Runtime string // RuntimeProcess (default), RuntimeDocker or RuntimeSwarm
	// Command runs in the release directory (process runtime) or
	// overrides the image's command (docker and swarm). $PORT is given.
	Command []string
	Image   string // docker and swarm runtimes
	// Port is the port the app listens on: for the process runtime a
	// free port is allocated and passed as $PORT; for docker it is the
	// container port.
	Port int
	// Protocol is what the app speaks on Port, and so the protocol of its
	// target groups: proxy.ProtocolHTTP1 (""), ProtocolHTTP2 (TLS),
	// ProtocolH2C, ProtocolGRPC or ProtocolGRPCS (TLS). Health checks
	// speak it too.
	Protocol    string
	Count       int // desired tasks; default 1
	Env         map[string]string
	StopTimeout time.Duration // SIGTERM to SIGKILL; default 30s
	Memory      int64         // bytes; 0 = no limit
	CPUs        float64       // 0 = no limit
	// Release is the directory the process runtime runs Command in when
	// no build made one; default the app's directory.
	Release string
	// Placement holds Swarm constraint expressions the nodes running the
	// tasks must meet, e.g. "node.labels.zone==eu" (swarm runtime).
	Placement []string
	// MaxBodySize caps a request body to the app, in bytes: more gets
	// 413 from the load balancer; 0 is no limit.
	MaxBodySize int64
	// MaxConnectionsPerTask caps the requests a task has in flight; a
	// full task gets none, and when all are full a request gets 503.
	// 0 is no limit.
	MaxConnectionsPerTask int
	// ConfigVars are the app's config vars (`cutover env set`), kept in
	// the store and merged over Env: they win. A secret's value is
	// sealed (store.SealedEnv) and opened only to start a task. Not read
	// from cutover.yaml.
	ConfigVars map[string]string
}

// Listeners are the app's production and test listener addresses.
type Listeners struct {
	Production string // e.g. ":8080"; required
	Test       string // optional; AfterAllowTestTraffic hooks use it
	// Hosts, when set, puts the app behind a host rule on a shared
	// listener instead of owning the listener's default action.
	Hosts []string
	// TLS is TLSAuto for HTTPS on Production with certificates from the
	// ACME CA for Hosts; "" is plain HTTP (autotls.go).
	TLS string
	// HTTP is a plain listener that answers ACME HTTP-01 validations and
	// redirects Hosts to HTTPS once each has its certificate; until then
	// it serves the app. Optional, with TLS.
	HTTP string
	// HSTS is the Strict-Transport-Security max-age sent on HTTPS; 0: none.
	HSTS time.Duration
	// MaxHeaderSize caps a request's line and header fields, in bytes
	// (431 above it); 0 is the load balancer's default, 64 KiB. Apps
	// sharing a listener get the largest of theirs.
	MaxHeaderSize int
}

// Deployment strategies.
const (
	StrategyBlueGreen = "blue_green"
	StrategyRolling   = "rolling"
)

// Deploy is the deployment configuration: CodeDeploy's deployment group
// and deployment config, or ECS's rolling update settings.
type Deploy struct {
	Strategy string // StrategyBlueGreen (default) or StrategyRolling

	// Traffic is how production traffic moves to the new task set.
	Traffic Traffic
	// Rolling applies when Strategy is StrategyRolling.
	Rolling Rolling

	// ReadyWait is CodeDeploy's deploymentReadyOption: after the green
	// task set passed AfterAllowTestTraffic, wait this long before
	// rerouting; with Manual, wait for `cutover continue` and stop the
	// deployment when the wait ends without it.
	ReadyWait ReadyWait
	// TerminationWait keeps blue running (and rollback instant) after
	// all traffic moved; default 5m, max 48h.
	TerminationWait time.Duration
	// DeregistrationDelay is how long a task being removed may finish
	// its requests; default 30s.
	DeregistrationDelay time.Duration
	// ProgressDeadline fails any step that cannot finish in time, so no
	// deployment hangs forever; default 10m.
	ProgressDeadline time.Duration

	Rollback Rollback
	// Hooks run at the lifecycle events, in order, per event.
	Hooks map[string][]Hook
	// Release is the release command (Heroku's release phase): run once
	// per deployment as a one-off task of the new revision, after Install
	// and before any traffic moves; its failure fails the deployment.
	Release []string
	// ReleaseTimeout bounds the release command; default 5m, max 1h.
	ReleaseTimeout time.Duration
	// AppSpec names a CodeDeploy appspec.yaml (ECS form) in the app's
	// directory whose hooks run after those in Hooks. Default: appspec.yaml
	// when the directory has one.
	AppSpec string
	// SlowStart ramps a newly healthy task's share of requests up over
	// this long (30s-15m; 0 is off).
	SlowStart time.Duration
	// Stickiness keeps a client on one task (lb_cookie or app_cookie).
	Stickiness proxy.StickinessConfig
}

// Traffic shifting types, as CodeDeploy's trafficRoutingConfig.
const (
	TrafficAllAtOnce = "all_at_once"
	TrafficCanary    = "canary"
	TrafficLinear    = "linear"
)

// Traffic is a traffic-shifting configuration. The predefined CodeDeploy
// names (CodeDeployDefault.ECSLinear10PercentEvery1Minutes, ...) parse
// into it.
type Traffic struct {
	Type     string        // TrafficAllAtOnce (default), TrafficCanary or TrafficLinear
	Percent  int           // canary: first step; linear: each step (1-99)
	Interval time.Duration // canary: wait after the first step; linear: between steps
	Name     string        // the predefined name it came from, if any
}

// Rolling is ECS's rolling update configuration.
type Rolling struct {
	MinHealthyPercent int // default 100
	MaxPercent        int // default 200
	// CircuitBreaker fails the deployment after clamp(ceil(0.5 x count),
	// 3, 200) task failures and rolls back when Rollback.OnFailure.
	CircuitBreaker bool // default true
}

// ReadyWait is what happens between test traffic and production traffic.
type ReadyWait struct {
	Wait   time.Duration // 0: continue at once
	Manual bool          // hold for `cutover continue`; Stopped when Wait ends
}

// Rollback says when cutover rolls a deployment back by itself.
type Rollback struct {
	OnFailure bool // default true
	Alarms    []Alarm
	// MinRequests is the least number of requests to the green task set
	// in an alarm's window before it is judged at all, so an idle canary
	// neither passes nor fails on noise; default 20.
	MinRequests int
}

// Alarm metrics, computed by the proxy for the new task set.
const (
	MetricErrorRate  = "error_rate"  // share of 5xx responses, 0-1
	MetricLatencyP99 = "latency_p99" // seconds
)

// Alarm rolls a deployment back when Metric of the green task set stays
// Above a threshold for For. With RelativeToBlue, Above is a factor of
// blue's value over the same window (e.g. 2 = twice blue's p99) instead of
// an absolute threshold.
type Alarm struct {
	Metric         string
	Above          float64
	For            time.Duration // default 30s: the evaluation window
	RelativeToBlue bool
}

// Hook is one lifecycle hook: a command run in the app's directory, or
// an HTTP endpoint called with POST. Either way it gets the deployment id,
// app, revision and test URL, and must finish within Timeout.
type Hook struct {
	Command []string // run with the environment described in docs
	URL     string
	Timeout time.Duration // default 5m, max 1h (CodeDeploy's limit)
}

// Lifecycle events a hook can be attached to, in the order they run.
var HookEvents = []string{
	"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic",
}
