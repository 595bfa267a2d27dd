package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fullApp = `
name: hello
source: {repo: ., branch: main}
build: {spec: buildspec.yml}
service:
  runtime: process
  command: [node, app.js]
  port: 3000
  count: 3
  env: {NODE_ENV: production, WORKERS: 2}
  stop_timeout: 10s
  memory: 256
  cpus: 0.5
health: {path: /status, interval: 1s, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 3, matcher: "200-299"}
listeners: {production: ":8080", test: ":8090"}
deploy:
  strategy: blue_green
  traffic: CodeDeployDefault.ECSLinear10PercentEvery1Minutes
  ready_wait: {wait: 1h, manual: true}
  termination_wait: 1m
  deregistration_delay: 5s
  progress_deadline: 2m
  rollback:
    on_failure: true
    min_requests: 50
    alarms:
      - {metric: error_rate, above: 0.01, for: 30s}
      - {metric: latency_p99, above: 2, relative_to_blue: true}
  hooks:
    AfterAllowTestTraffic: [./scripts/smoke.sh, "http://127.0.0.1:9999/check"]
    BeforeAllowTraffic:
      - {command: [./scripts/check.sh, --fast], timeout: 30s}
`

func TestParseAppFull(t *testing.T) {
	app, err := ParseApp("cutover.yaml", []byte(fullApp))
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	s := app.Service
	if app.Name != "hello" || s.Runtime != RuntimeProcess || s.Port != 3000 || s.Count != 3 ||
		s.StopTimeout != 10*time.Second || s.Memory != 256<<20 || s.CPUs != 0.5 {
		t.Errorf("service = %+v", s)
	}
	if !reflect.DeepEqual(s.Command, []string{"node", "app.js"}) {
		t.Errorf("command = %q", s.Command)
	}
	if s.Env["WORKERS"] != "2" || s.Env["NODE_ENV"] != "production" {
		t.Errorf("env = %v", s.Env)
	}
	h := app.Health
	if h.Path != "/status" || h.Interval != time.Second || h.Timeout != 500*time.Millisecond || h.UnhealthyThreshold != 3 {
		t.Errorf("health = %+v", h)
	}
	d := app.Deploy
	wantTraffic := Traffic{Type: TrafficLinear, Percent: 10, Interval: time.Minute, Name: "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"}
	if d.Traffic != wantTraffic {
		t.Errorf("traffic = %+v, want %+v", d.Traffic, wantTraffic)
	}
	if !d.ReadyWait.Manual || d.ReadyWait.Wait != time.Hour || d.TerminationWait != time.Minute ||
		d.DeregistrationDelay != 5*time.Second || d.ProgressDeadline != 2*time.Minute {
		t.Errorf("deploy = %+v", d)
	}
	if d.Rollback.MinRequests != 50 || len(d.Rollback.Alarms) != 2 ||
		d.Rollback.Alarms[0] != (Alarm{Metric: MetricErrorRate, Above: 0.01, For: 30 * time.Second}) ||
		d.Rollback.Alarms[1] != (Alarm{Metric: MetricLatencyP99, Above: 2, For: DefaultAlarmWindow, RelativeToBlue: true}) {
		t.Errorf("rollback = %+v", d.Rollback)
	}
	smoke := d.Hooks["AfterAllowTestTraffic"]
	if len(smoke) != 2 || !reflect.DeepEqual(smoke[0].Command, []string{"/bin/sh", "-c", "./scripts/smoke.sh"}) ||
		smoke[1].URL != "http://127.0.0.1:9999/check" || smoke[0].Timeout != DefaultHookTimeout {
		t.Errorf("AfterAllowTestTraffic hooks = %+v", smoke)
	}
	if b := d.Hooks["BeforeAllowTraffic"]; len(b) != 1 || b[0].Timeout != 30*time.Second || b[0].Command[1] != "--fast" {
		t.Errorf("BeforeAllowTraffic hooks = %+v", b)
	}
}

func TestParseAppDefaults(t *testing.T) {
	app, err := ParseApp("cutover.yaml", []byte("name: a\nservice: {command: ./run, port: 80}\nlisteners: {production: ':8080'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if app.Service.Count != 1 || app.Service.Runtime != RuntimeProcess || app.Service.StopTimeout != DefaultStopTimeout {
		t.Errorf("service defaults = %+v", app.Service)
	}
	if !reflect.DeepEqual(app.Service.Command, []string{"/bin/sh", "-c", "./run"}) {
		t.Errorf("string command = %q", app.Service.Command)
	}
	if app.Health.Interval != DefaultHealthInterval || app.Health.HealthyThreshold != DefaultHealthyThreshold ||
		app.Health.Path != "/" || app.Health.Matcher != DefaultHealthMatcher {
		t.Errorf("health defaults = %+v", app.Health)
	}
	d := app.Deploy
	if d.Strategy != StrategyBlueGreen || d.Traffic.Type != TrafficAllAtOnce || !d.Rollback.OnFailure ||
		d.Rolling.MinHealthyPercent != 100 || d.Rolling.MaxPercent != 200 || !d.Rolling.CircuitBreaker {
		t.Errorf("deploy defaults = %+v", d)
	}
	if len(d.Rollback.Alarms) != 1 || d.Rollback.Alarms[0].Metric != MetricErrorRate {
		t.Errorf("default alarm = %+v", d.Rollback.Alarms)
	}
}

func TestParseAppEmptyAlarmsTurnsDefaultOff(t *testing.T) {
	app, err := ParseApp("c.yaml", []byte("name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\ndeploy: {rollback: {alarms: []}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Deploy.Rollback.Alarms) != 0 {
		t.Errorf("alarms = %+v, want none", app.Deploy.Rollback.Alarms)
	}
}

func TestParseAppSwarm(t *testing.T) {
	app, err := ParseApp("c.yaml", []byte("name: a\nservice:\n  runtime: swarm\n  image: web:1\n  port: 80\n  placement: [node.labels.zone==eu, ' node.role != manager ']\nlisteners: {production: ':1'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if app.Service.Runtime != RuntimeSwarm || app.Service.Image != "web:1" {
		t.Errorf("runtime %q, image %q", app.Service.Runtime, app.Service.Image)
	}
	want := []string{"node.labels.zone==eu", "node.role != manager"}
	if !reflect.DeepEqual(app.Service.Placement, want) {
		t.Errorf("Placement = %q, want %q", app.Service.Placement, want)
	}
}

func TestParseAppTraffic(t *testing.T) {
	tests := []struct {
		yaml string
		want Traffic
	}{
		{"all_at_once", Traffic{Type: TrafficAllAtOnce}},
		{"CodeDeployDefault.ECSAllAtOnce", Traffic{Type: TrafficAllAtOnce, Name: "CodeDeployDefault.ECSAllAtOnce"}},
		{"CodeDeployDefault.ECSCanary10Percent5Minutes", Traffic{Type: TrafficCanary, Percent: 10, Interval: 5 * time.Minute, Name: "CodeDeployDefault.ECSCanary10Percent5Minutes"}},
		{"CodeDeployDefault.ECSCanary10Percent15Minutes", Traffic{Type: TrafficCanary, Percent: 10, Interval: 15 * time.Minute, Name: "CodeDeployDefault.ECSCanary10Percent15Minutes"}},
		{"CodeDeployDefault.ECSLinear10PercentEvery3Minutes", Traffic{Type: TrafficLinear, Percent: 10, Interval: 3 * time.Minute, Name: "CodeDeployDefault.ECSLinear10PercentEvery3Minutes"}},
		{"{type: canary, percent: 20, wait: 10s}", Traffic{Type: TrafficCanary, Percent: 20, Interval: 10 * time.Second}},
		{"{type: linear, percent: 25, interval: 2s}", Traffic{Type: TrafficLinear, Percent: 25, Interval: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			src := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\ndeploy: {traffic: " + tt.yaml + "}\n"
			app, err := ParseApp("c.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if app.Deploy.Traffic != tt.want {
				t.Errorf("traffic = %+v, want %+v", app.Deploy.Traffic, tt.want)
			}
		})
	}
}

func TestParseAppErrors(t *testing.T) {
	base := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"missing service", "name: a\nlisteners: {production: ':1'}\n", []string{"cutover.yaml:1:1: service: missing"}},
		{"bad name", "name: Hello_World\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n",
			[]string{`cutover.yaml:1:7: name: "Hello_World" is not a valid app name`}},
		{"unknown service field", "name: a\nservice: {command: x, port: 80, replicas: 3}\nlisteners: {production: ':1'}\n",
			[]string{"cutover.yaml:2:33: service.replicas: unknown field; valid fields: runtime, command, image, port, protocol, count, env, stop_timeout, memory, cpus, release, placement"}},
		{"process without command", "name: a\nservice: {port: 80}\nlisteners: {production: ':1'}\n",
			[]string{"service.command: missing; the process runtime needs a command"}},
		{"port range", "name: a\nservice: {command: x, port: 70000}\nlisteners: {production: ':1'}\n",
			[]string{"service.port: 70000 is out of range; valid: 1-65535"}},
		{"bad env name", "name: a\nservice: {command: x, port: 80, env: {1X: a}}\nlisteners: {production: ':1'}\n",
			[]string{`service.env.1X: "1X" is not a valid environment variable name`}},
		{"bad runtime", "name: a\nservice: {runtime: k8s, command: x, port: 80}\nlisteners: {production: ':1'}\n",
			[]string{`service.runtime: "k8s" is not a runtime; valid: process, docker, swarm`}},
		{"placement without ==", "name: a\nservice: {runtime: swarm, image: a, port: 80, placement: [node.role==worker, zone]}\nlisteners: {production: ':1'}\n",
			[]string{`service.placement[1]: "zone" is not a constraint`}},
		{"placement on docker", "name: a\nservice: {runtime: docker, image: a, port: 80, placement: [node.role==worker]}\nlisteners: {production: ':1'}\n",
			[]string{"service.placement: applies to the swarm runtime only"}},
		{"health timeout", base + "health: {interval: 1s, timeout: 1s}\n", []string{"cutover.yaml:4:", "health.timeout:"}},
		{"health threshold", base + "health: {healthy_threshold: 1}\n", []string{"health.healthy_threshold:", "2-10"}},
		{"unknown traffic name", base + "deploy: {traffic: CodeDeployDefault.ECSLinear50}\n",
			[]string{`deploy.traffic: "CodeDeployDefault.ECSLinear50" is not a traffic config`, "CodeDeployDefault.ECSCanary10Percent15Minutes"}},
		{"canary needs wait", base + "deploy: {traffic: {type: canary, percent: 10}}\n", []string{"deploy.traffic.wait: missing"}},
		{"linear uses interval", base + "deploy: {traffic: {type: linear, percent: 10, wait: 1m}}\n",
			[]string{"deploy.traffic.interval: missing", `deploy.traffic.wait: linear uses "interval", not "wait"`}},
		{"percent range", base + "deploy: {traffic: {type: canary, percent: 100, wait: 1m}}\n",
			[]string{"deploy.traffic.percent: 100 is out of range; valid: 1-99"}},
		{"traffic with rolling", base + "deploy: {strategy: rolling, traffic: all_at_once}\n",
			[]string{"deploy.traffic: applies to blue_green deployments only"}},
		{"rolling bounds", base + "deploy: {strategy: rolling, rolling: {min_healthy_percent: 150, max_percent: 50}}\n",
			[]string{"deploy.rolling.min_healthy_percent: 150 is out of range; valid: 0-100", "deploy.rolling.max_percent: 50 is out of range; valid: 100-200"}},
		{"termination wait", base + "deploy: {termination_wait: 72h}\n", []string{"deploy.termination_wait: 72h0m0s is out of range; valid: 0s-48h"}},
		{"manual ready wait needs a wait", base + "deploy: {ready_wait: {manual: true}}\n", []string{"deploy.ready_wait.wait: a manual ready wait needs a wait"}},
		{"bad hook event", base + "deploy: {hooks: {AllowTraffic: [x]}}\n",
			[]string{`deploy.hooks.AllowTraffic: "AllowTraffic" is not a hookable lifecycle event; valid: BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic`}},
		{"hook with both", base + "deploy: {hooks: {BeforeInstall: [{command: x, url: 'http://a'}]}}\n",
			[]string{"deploy.hooks.BeforeInstall[0]: give exactly one of command or url"}},
		{"hook timeout", base + "deploy: {hooks: {BeforeInstall: [{command: x, timeout: 2h}]}}\n",
			[]string{"deploy.hooks.BeforeInstall[0].timeout: 2h0m0s is out of range; valid: 1s-1h"}},
		{"alarm metric", base + "deploy: {rollback: {alarms: [{metric: cpu, above: 1}]}}\n",
			[]string{`deploy.rollback.alarms[0].metric: "cpu" is not a metric; valid: error_rate, latency_p99`}},
		{"error rate above 1", base + "deploy: {rollback: {alarms: [{metric: error_rate, above: 5}]}}\n",
			[]string{"deploy.rollback.alarms[0].above: 5 is out of range; valid: 0-1"}},
		{"same listener twice", "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1', test: ':1'}\n",
			[]string{`listeners.test: must differ from the production listener ":1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := ParseApp("cutover.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseApp accepted bad input: %+v", app)
			}
			rest := err.Error()
			for _, want := range tt.want {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("error %q\ndoes not contain (in order) %q", err, want)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

const seedAppSpec = `version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "<TASK_DEFINITION>"
        LoadBalancerInfo:
          ContainerName: "hello"
          ContainerPort: 3000
        PlatformVersion: "LATEST"
Hooks:
  - BeforeInstall: ./hooks/before.sh
  - AfterAllowTestTraffic: "http://127.0.0.1:9999/smoke"
`

func TestParseAppSpec(t *testing.T) {
	spec, err := ParseAppSpec("appspec.yaml", []byte(seedAppSpec))
	if err != nil {
		t.Fatalf("ParseAppSpec: %v", err)
	}
	if spec.ContainerName != "hello" || spec.ContainerPort != 3000 || spec.TaskDefinition != "<TASK_DEFINITION>" {
		t.Errorf("spec = %+v", spec)
	}
	if h := spec.Hooks["BeforeInstall"]; len(h) != 1 || h[0].Command[2] != "./hooks/before.sh" {
		t.Errorf("BeforeInstall = %+v", h)
	}
	if h := spec.Hooks["AfterAllowTestTraffic"]; len(h) != 1 || h[0].URL != "http://127.0.0.1:9999/smoke" {
		t.Errorf("AfterAllowTestTraffic = %+v", h)
	}
	if len(spec.Warnings) != 1 || !strings.Contains(spec.Warnings[0], "PlatformVersion: not used by cutover") {
		t.Errorf("warnings = %q", spec.Warnings)
	}
}

func TestParseAppSpecErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"version", strings.Replace(seedAppSpec, "0.0", "0.1", 1), `appspec.yaml:1:10: version: "0.1" is not supported; the only valid value is 0.0`},
		{"type", strings.Replace(seedAppSpec, "AWS::ECS::Service", "AWS::Lambda::Function", 1), `Resources[0].TargetService.Type: "AWS::Lambda::Function" is not supported`},
		{"hook event", seedAppSpec + "  - AllowTraffic: x\n", `Hooks[2].AllowTraffic: "AllowTraffic" is not a hookable lifecycle event`},
		{"missing port", strings.Replace(seedAppSpec, "          ContainerPort: 3000\n", "", 1), "LoadBalancerInfo.ContainerPort: missing"},
		{"unknown field", strings.Replace(seedAppSpec, "Hooks:", "Hookz:", 1), "Hookz: unknown field; valid fields: version, Resources, Hooks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAppSpec("appspec.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadAppMergesAppSpec(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, AppFile), []byte(`name: hello
service: {command: [node, app.js], port: 3000}
listeners: {production: ":8080"}
deploy: {hooks: {BeforeInstall: [./first.sh]}}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "appspec.yaml"), []byte(seedAppSpec), 0o644)
	app, err := LoadApp(dir)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	if app.Dir != dir || app.Service.Release != dir {
		t.Errorf("Dir = %q, Release = %q, want %q", app.Dir, app.Service.Release, dir)
	}
	b := app.Deploy.Hooks["BeforeInstall"]
	if len(b) != 2 || b[0].Command[2] != "./first.sh" || b[1].Command[2] != "./hooks/before.sh" {
		t.Errorf("BeforeInstall hooks = %+v; want cutover.yaml's, then appspec's", b)
	}
	if len(app.Warnings) != 1 {
		t.Errorf("warnings = %q", app.Warnings)
	}

	os.WriteFile(filepath.Join(dir, "appspec.yaml"), []byte(strings.Replace(seedAppSpec, "3000", "4000", 1)), 0o644)
	if _, err := LoadApp(dir); err == nil || !strings.Contains(err.Error(), "4000 differs from service.port 3000") {
		t.Errorf("port mismatch: %v", err)
	}
}

func FuzzParseApp(f *testing.F) {
	f.Add([]byte(fullApp))
	f.Add([]byte("name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"))
	f.Add([]byte("deploy: {traffic: {type: linear}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		app, err := ParseApp("fuzz.yaml", data)
		if err == nil && (app == nil || app.Name == "" || app.Service.Port == 0) {
			t.Fatalf("accepted an app without name or port: %+v", app)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func FuzzParseAppSpec(f *testing.F) {
	f.Add([]byte(seedAppSpec))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseAppSpec("fuzz.yaml", data)
		if err == nil && spec == nil {
			t.Fatal("nil spec without error")
		}
	})
}

func TestExampleHelloNodeLoads(t *testing.T) {
	app, err := LoadApp("../../examples/hello-node")
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	if app.Name != "hello" || app.Service.Count != 3 || len(app.Deploy.Hooks["AfterAllowTestTraffic"]) != 1 {
		t.Errorf("hello-node = %+v", app)
	}
}
