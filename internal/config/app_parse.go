package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cutover/cutover/internal/health"
)

// AppFile is the name cutover looks for in an app's directory.
const AppFile = "cutover.yaml"

// Defaults of cutover.yaml. Health checks default to faster settings than
// ALB's (30s x 5) because a deployment waits for them.
const (
	DefaultCount               = 1
	DefaultStopTimeout         = 30 * time.Second
	DefaultHealthInterval      = 5 * time.Second
	DefaultHealthTimeout       = 2 * time.Second
	DefaultHealthyThreshold    = 2
	DefaultUnhealthyThreshold  = 2
	DefaultHealthMatcher       = "200-299"
	DefaultTerminationWait     = 5 * time.Minute
	DefaultDeregistrationDelay = 30 * time.Second
	DefaultProgressDeadline    = 10 * time.Minute
	DefaultMinRequests         = 20
	DefaultAlarmWindow         = 30 * time.Second
	DefaultHookTimeout         = 5 * time.Minute
	// DefaultErrorRateAlarm applies when cutover.yaml lists no alarms:
	// more than 5% of green's responses are 5xx over 30s.
	DefaultErrorRateAlarm = 0.05
)

// Limits of cutover.yaml values.
const (
	maxTerminationWait = 48 * time.Hour // CodeDeploy: 2880 minutes
	maxHookTimeout     = time.Hour      // CodeDeploy: one hour
	MaxCount           = 1000           // service.count, and cutover scale
	maxStopTimeout     = time.Hour
)

// predefinedTraffic are CodeDeploy's predefined ECS deployment configs.
var predefinedTraffic = map[string]Traffic{
	"CodeDeployDefault.ECSAllAtOnce":                    {Type: TrafficAllAtOnce},
	"CodeDeployDefault.ECSLinear10PercentEvery1Minutes": {Type: TrafficLinear, Percent: 10, Interval: time.Minute},
	"CodeDeployDefault.ECSLinear10PercentEvery3Minutes": {Type: TrafficLinear, Percent: 10, Interval: 3 * time.Minute},
	"CodeDeployDefault.ECSCanary10Percent5Minutes":      {Type: TrafficCanary, Percent: 10, Interval: 5 * time.Minute},
	"CodeDeployDefault.ECSCanary10Percent15Minutes":     {Type: TrafficCanary, Percent: 10, Interval: 15 * time.Minute},
}

// PredefinedTraffic returns the names of CodeDeploy's predefined configs.
func PredefinedTraffic() []string {
	names := make([]string, 0, len(predefinedTraffic))
	for n := range predefinedTraffic {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

var (
	appNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// LoadApp reads cutover.yaml from dir (or the file dir names), and the
// CodeDeploy appspec.yaml it refers to, if any.
//
// Everything it reads, and every path cutover.yaml names (service.release,
// build.spec, deploy.appspec), must be inside the app directory, symlinks
// followed: cutover reads and copies them as its own user, and the app
// directory may be a pushed commit.
func LoadApp(path string) (*App, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, AppFile)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("resolving the app directory: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("reading app config: %w", err)
	}
	defer root.Close()
	data, err := root.ReadFile(filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("reading app config %s: %w", path, err)
	}
	app, err := ParseApp(path, data)
	if err != nil {
		return nil, err
	}
	app.Dir = abs
	if err := app.confinePaths(root, path); err != nil {
		return nil, err
	}
	return app, app.loadAppSpec(root)
}

// confinePaths checks that the paths cutover.yaml names are inside the
// app directory and makes service.release absolute.
func (app *App) confinePaths(root *os.Root, file string) error {
	for _, p := range []struct{ field, value string }{
		{"service.release", app.Service.Release}, {"build.spec", app.Build.Spec}, {"deploy.appspec", app.Deploy.AppSpec},
	} {
		if p.value == "" {
			continue
		}
		if err := inside(root, app.Dir, p.value); err != nil {
			return fmt.Errorf("%s: %s: %q %v: it must be inside the app directory %s", file, p.field, p.value, err, app.Dir)
		}
	}
	if app.Service.Release == "" {
		app.Service.Release = app.Dir
	} else if !filepath.IsAbs(app.Service.Release) {
		app.Service.Release = filepath.Join(app.Dir, app.Service.Release)
	}
	return nil
}

// inside says why the path p (relative to dir, or absolute) is not inside
// the directory root opens (dir), symlinks followed; nil when it is. A
// path that does not exist yet is judged by its name.
func inside(root *os.Root, dir, p string) error {
	rel := p
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return errors.New("is not inside")
		}
		rel = r
	}
	if !filepath.IsLocal(rel) {
		return errors.New("leaves the app directory")
	}
	if _, err := root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errors.New("resolves outside the app directory")
	}
	return nil
}

// loadAppSpec reads the appspec.yaml cutover.yaml names, or the one in
// the app directory, through root.
func (app *App) loadAppSpec(root *os.Root) error {
	specName := app.Deploy.AppSpec
	if specName == "" {
		for _, name := range []string{"appspec.yaml", "appspec.yml"} {
			if _, err := root.Lstat(name); err == nil {
				specName = name
				break
			}
		}
	}
	if specName == "" {
		return nil
	}
	specPath := filepath.Join(app.Dir, specName)
	if filepath.IsAbs(specName) {
		specPath = specName
		specName, _ = filepath.Rel(app.Dir, specName)
	}
	data, err := root.ReadFile(specName)
	if err != nil {
		return fmt.Errorf("reading appspec: %w", err)
	}
	spec, err := ParseAppSpec(specPath, data)
	if err != nil {
		return err
	}
	return app.mergeAppSpec(specPath, spec)
}

// ParseApp parses cutover.yaml content; name is used in error messages.
// It fills in defaults. Paths stay relative until LoadApp resolves them.
func ParseApp(name string, data []byte) (*App, error) {
	w := &walker{file: name}
	root := w.parseDocument(data)
	if root == nil {
		return nil, w.err()
	}
	app := w.app(root)
	if err := w.err(); err != nil {
		return nil, err
	}
	return app, nil
}

func (w *walker) app(root *yaml.Node) *App {
	app := &App{}
	f := w.fields(root, "", "name", "source", "build", "service", "health", "listeners", "deploy", "notifications")
	if f == nil {
		return app
	}
	if v := w.required(f, root, "", "name", "give the app a name of lowercase letters, digits and '-'"); v != nil {
		app.Name = w.str(v, "name")
		if app.Name != "" && !appNameRE.MatchString(app.Name) {
			w.errorf(v, "name", "%q is not a valid app name; valid: lowercase letters, digits and '-', at most 63, e.g. hello-web", app.Name)
		}
	}
	app.Source = Source{Repo: ".", Branch: "main"}
	if v := f["source"]; v != nil {
		sf := w.fields(v, "source", "repo", "branch")
		if r := sf["repo"]; r != nil {
			app.Source.Repo = w.str(r, "source.repo")
		}
		if b := sf["branch"]; b != nil {
			app.Source.Branch = w.str(b, "source.branch")
		}
	}
	app.Build = Build{Spec: "buildspec.yml"}
	if v := f["build"]; v != nil {
		bf := w.fields(v, "build", "spec")
		if s := bf["spec"]; s != nil {
			app.Build.Spec = w.str(s, "build.spec")
		}
	}
	if v := w.required(f, root, "", "service", "say how to run the app (runtime, command or image, port, count)"); v != nil {
		app.Service = w.service(v)
	}
	app.Health = w.appHealth(f["health"], app.Service.Protocol)
	if v := w.required(f, root, "", "listeners", `give at least the production listener, e.g. listeners: {production: ":8080"}`); v != nil {
		app.Listeners = w.listeners(v)
	}
	app.Deploy = w.deploy(f["deploy"])
	w.releaseRuntime(app, f["deploy"])
	if v := f["notifications"]; v != nil {
		app.Notifications = w.notifications(v)
	}
	return app
}

func (w *walker) service(n *yaml.Node) Service {
	s := Service{Runtime: RuntimeProcess, Count: DefaultCount, StopTimeout: DefaultStopTimeout}
	f := w.fields(n, "service", append([]string{"runtime", "command", "image", "port", "protocol", "count", "env", "stop_timeout", "memory", "cpus", "release", "placement"}, serviceLimitFields...)...)
	if f == nil {
		return s
	}
	if v := f["runtime"]; v != nil {
		s.Runtime = w.str(v, "service.runtime")
		if s.Runtime != RuntimeProcess && s.Runtime != RuntimeDocker && s.Runtime != RuntimeSwarm {
			w.errorf(v, "service.runtime", "%q is not a runtime; valid: process, docker, swarm", s.Runtime)
		}
	}
	if v := f["command"]; v != nil {
		s.Command = w.command(v, "service.command")
	}
	if v := f["image"]; v != nil {
		s.Image = w.str(v, "service.image")
	}
	if s.Runtime == RuntimeProcess && len(s.Command) == 0 {
		w.errorf(n, "service.command", "missing; the process runtime needs a command, e.g. command: [node, app.js]")
	}
	if v := w.required(f, n, "service", "port", "give the port the app listens on (the process runtime passes it as $PORT)"); v != nil {
		s.Port = w.integer(v, "service.port", 1, 65535)
	}
	if v := f["protocol"]; v != nil {
		s.Protocol = w.protocol(v, "service.protocol")
	}
	if v := f["count"]; v != nil {
		s.Count = w.integer(v, "service.count", 1, MaxCount)
	}
	if v := f["env"]; v != nil {
		s.Env = w.env(v, "service.env")
	}
	if v := f["stop_timeout"]; v != nil {
		s.StopTimeout = w.duration(v, "service.stop_timeout", 0, maxStopTimeout)
	}
	if v := f["memory"]; v != nil {
		s.Memory = int64(w.integer(v, "service.memory", 4, 1<<20)) << 20
	}
	if v := f["cpus"]; v != nil {
		s.CPUs = w.float(v, "service.cpus", 0.01, 1024)
	}
	if v := f["release"]; v != nil {
		s.Release = w.str(v, "service.release")
	}
	if v := f["placement"]; v != nil {
		s.Placement = w.placement(v, "service.placement")
		if s.Runtime != RuntimeSwarm {
			w.errorf(v, "service.placement", "applies to the swarm runtime only")
		}
	}
	w.serviceLimits(f, &s)
	return s
}

// placement reads Swarm placement constraints: each an expression with
// == or !=, such as node.labels.zone==eu or node.role!=manager.
func (w *walker) placement(n *yaml.Node, path string) []string {
	items := []*yaml.Node{resolve(n)}
	if items[0].Kind != yaml.ScalarNode {
		items = w.list(n, path)
	}
	var out []string
	for i, item := range items {
		field := index(path, i)
		c := strings.TrimSpace(w.str(item, field))
		if !strings.Contains(c, "==") && !strings.Contains(c, "!=") {
			w.errorf(item, field, "%q is not a constraint; write e.g. node.labels.zone==eu or node.role!=manager", c)
			continue
		}
		out = append(out, c)
	}
	return out
}

// command reads a command: a list of arguments, or one string run by
// /bin/sh -c.
func (w *walker) command(n *yaml.Node, path string) []string {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		s := w.str(n, path)
		if strings.TrimSpace(s) == "" {
			w.errorf(n, path, "must not be empty")
			return nil
		}
		return []string{"/bin/sh", "-c", s}
	}
	args := w.strList(n, path)
	if len(args) == 0 {
		w.errorf(n, path, "must not be empty")
	}
	return args
}

func (w *walker) env(n *yaml.Node, path string) map[string]string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, "must be a mapping of NAME: value, not %s", kindName(n))
		return nil
	}
	env := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		field := join(path, k.Value)
		if !envNameRE.MatchString(k.Value) {
			w.errorf(k, field, "%q is not a valid environment variable name; valid: letters, digits and _, not starting with a digit", k.Value)
			continue
		}
		if _, dup := env[k.Value]; dup {
			w.errorf(k, field, "repeated variable")
			continue
		}
		if v.Kind != yaml.ScalarNode {
			w.errorf(v, field, "must be a string, number or boolean, not %s", kindName(v))
			continue
		}
		env[k.Value] = v.Value
	}
	return env
}

func (w *walker) float(n *yaml.Node, path string, lo, hi float64) float64 {
	n = resolve(n)
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil {
		w.errorf(n, path, "must be a number, not %q", n.Value)
		return 0
	}
	if v < lo || v > hi {
		w.errorf(n, path, "%v is out of range; valid: %v-%v", v, lo, hi)
	}
	return v
}

func (w *walker) appHealth(n *yaml.Node, protocol string) health.Config {
	hc := health.Config{
		Path:               "/",
		Interval:           DefaultHealthInterval,
		Timeout:            DefaultHealthTimeout,
		HealthyThreshold:   DefaultHealthyThreshold,
		UnhealthyThreshold: DefaultUnhealthyThreshold,
		Matcher:            DefaultHealthMatcher,
		Protocol:           protocol,
	}
	if health.SpeaksGRPC(protocol) {
		hc.Matcher = health.DefaultGRPCMatcher
	}
	if n == nil {
		return hc
	}
	parsed := w.healthCheck(n, "health", protocol)
	// Fields the file leaves out keep cutover.yaml's defaults, not ALB's.
	f := mappingKeys(n)
	if f["path"] {
		hc.Path = parsed.Path
	}
	if f["interval"] {
		hc.Interval = parsed.Interval
		if !f["timeout"] && hc.Timeout >= hc.Interval {
			hc.Timeout = hc.Interval / 2
		}
	}
	if f["timeout"] {
		hc.Timeout = parsed.Timeout
	}
	if f["healthy_threshold"] {
		hc.HealthyThreshold = parsed.HealthyThreshold
	}
	if f["unhealthy_threshold"] {
		hc.UnhealthyThreshold = parsed.UnhealthyThreshold
	}
	if f["matcher"] {
		hc.Matcher = parsed.Matcher
	}
	hc.Port, hc.Host, hc.Disabled, hc.GRPCService = parsed.Port, parsed.Host, parsed.Disabled, parsed.GRPCService
	if err := hc.Validate(); err != nil {
		w.healthErrors(n, mappingValues(n), "health", err)
	}
	return hc
}

func mappingKeys(n *yaml.Node) map[string]bool {
	keys := map[string]bool{}
	for k := range mappingValues(n) {
		keys[k] = true
	}
	return keys
}

func mappingValues(n *yaml.Node) map[string]*yaml.Node {
	n = resolve(n)
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i+1]
	}
	return out
}

func (w *walker) listeners(n *yaml.Node) Listeners {
	var l Listeners
	f := w.fields(n, "listeners", "production", "test", "hosts", "tls", "http", "hsts", "max_header_size")
	if f == nil {
		return l
	}
	if v := w.required(f, n, "listeners", "production", `give the production listener's address, e.g. ":8080"`); v != nil {
		l.Production = w.str(v, "listeners.production")
		w.address(v, "listeners.production", l.Production)
	}
	if v := f["test"]; v != nil {
		l.Test = w.str(v, "listeners.test")
		w.address(v, "listeners.test", l.Test)
		if l.Test == l.Production {
			w.errorf(v, "listeners.test", "must differ from the production listener %q", l.Production)
		}
	}
	if v := f["hosts"]; v != nil {
		for i, h := range w.strList(v, "listeners.hosts") {
			if !validHostPattern(h) {
				w.errorf(v, index("listeners.hosts", i), "%q is not a host name; valid: app.example.com or *.example.com", h)
			}
			l.Hosts = append(l.Hosts, h)
		}
	}
	w.https(f, &l)
	w.listenerHeaderLimit(f, &l)
	return l
}

// defaultDeploy is the deploy section of an app that gives none.
func defaultDeploy() Deploy {
	return Deploy{
		Strategy:            StrategyBlueGreen,
		Traffic:             Traffic{Type: TrafficAllAtOnce},
		Rolling:             Rolling{MinHealthyPercent: 100, MaxPercent: 200, CircuitBreaker: true},
		TerminationWait:     DefaultTerminationWait,
		DeregistrationDelay: DefaultDeregistrationDelay,
		ProgressDeadline:    DefaultProgressDeadline,
		ReleaseTimeout:      DefaultReleaseTimeout,
		Rollback: Rollback{
			OnFailure:   true,
			MinRequests: DefaultMinRequests,
			Alarms:      []Alarm{{Metric: MetricErrorRate, Above: DefaultErrorRateAlarm, For: DefaultAlarmWindow}},
		},
	}
}

func (w *walker) deploy(n *yaml.Node) Deploy {
	d := defaultDeploy()
	if n == nil {
		return d
	}
	f := w.fields(n, "deploy", append([]string{"strategy", "traffic", "rolling", "ready_wait", "termination_wait",
		"deregistration_delay", "progress_deadline", "rollback", "hooks", "appspec", "release", "release_timeout"}, deployTrafficFields...)...)
	if f == nil {
		return d
	}
	w.deployTraffic(f, &d)
	w.release(f, &d)
	if v := f["strategy"]; v != nil {
		d.Strategy = w.str(v, "deploy.strategy")
		if d.Strategy != StrategyBlueGreen && d.Strategy != StrategyRolling {
			w.errorf(v, "deploy.strategy", "%q is not a strategy; valid: blue_green, rolling", d.Strategy)
		}
	}
	if v := f["traffic"]; v != nil {
		d.Traffic = w.traffic(v, "deploy.traffic")
		if d.Strategy == StrategyRolling {
			w.errorf(v, "deploy.traffic", "applies to blue_green deployments only; a rolling update moves traffic task by task")
		}
	}
	if v := f["rolling"]; v != nil {
		w.rolling(v, &d.Rolling)
	}
	if v := f["ready_wait"]; v != nil {
		d.ReadyWait = w.readyWait(v)
	}
	if v := f["termination_wait"]; v != nil {
		d.TerminationWait = w.duration(v, "deploy.termination_wait", 0, maxTerminationWait)
	}
	if v := f["deregistration_delay"]; v != nil {
		d.DeregistrationDelay = w.duration(v, "deploy.deregistration_delay", 0, maxDeregistrationDelay)
	}
	if v := f["progress_deadline"]; v != nil {
		d.ProgressDeadline = w.duration(v, "deploy.progress_deadline", 10*time.Second, 24*time.Hour)
	}
	if v := f["rollback"]; v != nil {
		d.Rollback = w.rollback(v, d.Rollback)
	}
	if v := f["hooks"]; v != nil {
		d.Hooks = w.hooks(v, "deploy.hooks")
	}
	if v := f["appspec"]; v != nil {
		d.AppSpec = w.str(v, "deploy.appspec")
	}
	return d
}

// rolling reads deploy.rolling over the defaults in r.
func (w *walker) rolling(n *yaml.Node, r *Rolling) {
	f := w.fields(n, "deploy.rolling", "min_healthy_percent", "max_percent", "circuit_breaker")
	if x := f["min_healthy_percent"]; x != nil {
		r.MinHealthyPercent = w.integer(x, "deploy.rolling.min_healthy_percent", 0, 100)
	}
	if x := f["max_percent"]; x != nil {
		r.MaxPercent = w.integer(x, "deploy.rolling.max_percent", 100, 200)
	}
	if x := f["circuit_breaker"]; x != nil {
		r.CircuitBreaker = w.boolean(x, "deploy.rolling.circuit_breaker")
	}
}

// readyWait reads deploy.ready_wait; a manual wait needs a bound.
func (w *walker) readyWait(n *yaml.Node) ReadyWait {
	var rw ReadyWait
	f := w.fields(n, "deploy.ready_wait", "wait", "manual")
	if x := f["wait"]; x != nil {
		rw.Wait = w.duration(x, "deploy.ready_wait.wait", 0, maxTerminationWait)
	}
	if x := f["manual"]; x != nil {
		rw.Manual = w.boolean(x, "deploy.ready_wait.manual")
		if rw.Manual && rw.Wait == 0 {
			w.errorf(x, "deploy.ready_wait.wait", "a manual ready wait needs a wait, after which the deployment stops, e.g. wait: 1h")
		}
	}
	return rw
}

// traffic reads a predefined CodeDeploy config name, one of the type
// names, or a {type, percent, wait|interval} mapping.
func (w *walker) traffic(n *yaml.Node, path string) Traffic {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		name := w.str(n, path)
		if t, ok := predefinedTraffic[name]; ok {
			t.Name = name
			return t
		}
		if name == TrafficAllAtOnce {
			return Traffic{Type: TrafficAllAtOnce}
		}
		w.errorf(n, path, "%q is not a traffic config; valid: all_at_once, {type: canary, percent: 10, wait: 5m}, {type: linear, percent: 10, interval: 1m}, or one of %s",
			name, strings.Join(PredefinedTraffic(), ", "))
		return Traffic{Type: TrafficAllAtOnce}
	}
	f := w.fields(n, path, "type", "percent", "wait", "interval")
	var t Traffic
	if f == nil {
		return t
	}
	if v := w.required(f, n, path, "type", "valid: all_at_once, canary, linear"); v != nil {
		t.Type = w.str(v, path+".type")
	}
	switch t.Type {
	case TrafficAllAtOnce:
		for _, k := range []string{"percent", "wait", "interval"} {
			if f[k] != nil {
				w.errorf(f[k], join(path, k), "does not apply to all_at_once")
			}
		}
	case TrafficCanary, TrafficLinear:
		step, other := "wait", "interval"
		if t.Type == TrafficLinear {
			step, other = "interval", "wait"
		}
		if v := w.required(f, n, path, "percent", "give the percentage of traffic each step moves (1-99)"); v != nil {
			t.Percent = w.integer(v, path+".percent", 1, 99)
		}
		if v := w.required(f, n, path, step, "give the time between steps, e.g. "+step+": 1m"); v != nil {
			t.Interval = w.duration(v, join(path, step), time.Second, 48*time.Hour)
		}
		if v := f[other]; v != nil {
			w.errorf(v, join(path, other), "%s uses %q, not %q", t.Type, step, other)
		}
	case "":
	default:
		w.errorf(f["type"], path+".type", "%q is not a traffic type; valid: all_at_once, canary, linear", t.Type)
	}
	return t
}

func (w *walker) rollback(n *yaml.Node, d Rollback) Rollback {
	f := w.fields(n, "deploy.rollback", "on_failure", "alarms", "min_requests")
	if f == nil {
		return d
	}
	if v := f["on_failure"]; v != nil {
		d.OnFailure = w.boolean(v, "deploy.rollback.on_failure")
	}
	if v := f["min_requests"]; v != nil {
		d.MinRequests = w.integer(v, "deploy.rollback.min_requests", 0, 1_000_000)
	}
	if v := f["alarms"]; v != nil {
		d.Alarms = []Alarm{} // an empty list turns the default alarm off
		for i, item := range w.list(v, "deploy.rollback.alarms") {
			path := index("deploy.rollback.alarms", i)
			af := w.fields(item, path, "metric", "above", "for", "relative_to_blue")
			if af == nil {
				continue
			}
			a := Alarm{For: DefaultAlarmWindow}
			if x := w.required(af, item, path, "metric", "valid: error_rate, latency_p99"); x != nil {
				a.Metric = w.str(x, path+".metric")
				if a.Metric != MetricErrorRate && a.Metric != MetricLatencyP99 {
					w.errorf(x, path+".metric", "%q is not a metric; valid: error_rate, latency_p99", a.Metric)
				}
			}
			if x := af["relative_to_blue"]; x != nil {
				a.RelativeToBlue = w.boolean(x, path+".relative_to_blue")
			}
			if x := w.required(af, item, path, "above", "give the threshold, e.g. above: 0.01 for 1% errors or 0.5 for 500ms"); x != nil {
				hi := 1e6
				if a.Metric == MetricErrorRate && !a.RelativeToBlue {
					hi = 1
				}
				a.Above = w.float(x, path+".above", 0, hi)
			}
			if x := af["for"]; x != nil {
				a.For = w.duration(x, path+".for", time.Second, time.Hour)
			}
			d.Alarms = append(d.Alarms, a)
		}
	}
	return d
}

// hooks reads {Event: [hook, ...]}; a hook is a shell command string, a
// URL, or {command|url, timeout}.
func (w *walker) hooks(n *yaml.Node, path string) map[string][]Hook {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, "must be a mapping of lifecycle event to hooks, e.g. AfterAllowTestTraffic: [./smoke.sh]")
		return nil
	}
	out := map[string][]Hook{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		field := join(path, k.Value)
		if !slices.Contains(HookEvents, k.Value) {
			w.errorf(k, field, "%q is not a hookable lifecycle event; valid: %s", k.Value, strings.Join(HookEvents, ", "))
			continue
		}
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		}
		for j, item := range items {
			if h, ok := w.hook(item, index(field, j)); ok {
				out[k.Value] = append(out[k.Value], h)
			}
		}
	}
	return out
}

func (w *walker) hook(n *yaml.Node, path string) (Hook, bool) {
	n = resolve(n)
	h := Hook{Timeout: DefaultHookTimeout}
	if n.Kind == yaml.ScalarNode {
		s := strings.TrimSpace(w.str(n, path))
		if s == "" {
			w.errorf(n, path, "must not be empty")
			return h, false
		}
		if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
			h.URL = s
		} else {
			h.Command = []string{"/bin/sh", "-c", s}
		}
		return h, true
	}
	f := w.fields(n, path, "command", "url", "timeout")
	if f == nil {
		return h, false
	}
	if v := f["command"]; v != nil {
		h.Command = w.command(v, path+".command")
	}
	if v := f["url"]; v != nil {
		h.URL = w.str(v, path+".url")
		if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
			w.errorf(v, path+".url", "%q must start with http:// or https://", h.URL)
		}
	}
	if (h.URL == "") == (len(h.Command) == 0) {
		w.errorf(n, path, "give exactly one of command or url")
	}
	if v := f["timeout"]; v != nil {
		h.Timeout = w.duration(v, path+".timeout", time.Second, maxHookTimeout)
	}
	return h, true
}
