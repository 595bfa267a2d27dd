package docker

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

func TestTaskDefTaskSpec(t *testing.T) {
	seed, err := os.ReadFile("testdata/seed-taskdef.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		json     string
		spec     runtime.TaskSpec
		run      string // name of the container run
		health   *HealthCheck
		warnings []string
	}{
		{
			name: "seed: Fargate task definition of the ECS blue/green walkthrough",
			json: string(seed),
			spec: runtime.TaskSpec{
				Image:     "341546619470.dkr.ecr.ap-southeast-1.amazonaws.com/ecs-blue-green-nodejs:latest",
				Port:      3000,
				Resources: runtime.Resources{MemoryBytes: 1024 << 20, CPUs: 0.5},
			},
			run: "NodejsApp",
			warnings: []string{
				"taskRoleArn: not supported by cutover; ignored",
				"executionRoleArn: not supported by cutover; ignored",
				"networkMode: not supported by cutover; ignored",
				"requiresCompatibilities: not supported by cutover; ignored",
				"containerDefinitions[0].portMappings[0].hostPort: cutover publishes each task on a free host port; 3000 ignored",
				"containerDefinitions[0].logConfiguration: not supported by cutover; ignored",
			},
		},
		{
			name: "every supported field",
			json: `{
				"family": "web",
				"containerDefinitions": [{
					"name": "app",
					"image": "hello:abc123",
					"entryPoint": ["/bin/app"],
					"command": ["serve", "--verbose"],
					"environment": [{"name": "MODE", "value": "prod"}, {"name": "EMPTY"}],
					"portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
					"cpu": 256,
					"memory": 512,
					"stopTimeout": 20,
					"essential": true,
					"healthCheck": {
						"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
						"interval": 10, "timeout": 3, "retries": 5, "startPeriod": 60
					}
				}]
			}`,
			spec: runtime.TaskSpec{
				Image:       "hello:abc123",
				Entrypoint:  []string{"/bin/app"},
				Command:     []string{"serve", "--verbose"},
				Env:         map[string]string{"MODE": "prod", "EMPTY": ""},
				Port:        8080,
				StopTimeout: 20 * time.Second,
				Resources:   runtime.Resources{MemoryBytes: 512 << 20, CPUs: 0.25},
			},
			run: "app",
			health: &HealthCheck{
				Command:  []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"},
				Interval: 10 * time.Second, Timeout: 3 * time.Second, Retries: 5, StartPeriod: time.Minute,
			},
		},
		{
			name: "health check defaults",
			json: `{"containerDefinitions": [{"name": "app", "image": "i", "portMappings": [{"containerPort": 80}],
				"healthCheck": {"command": ["CMD", "/app", "-check"]}}]}`,
			spec: runtime.TaskSpec{Image: "i", Port: 80},
			run:  "app",
			health: &HealthCheck{
				Command:  []string{"CMD", "/app", "-check"},
				Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3,
			},
		},
		{
			name: "the essential container with a port runs, the others are named",
			json: `{"family": "web", "containerDefinitions": [
				{"name": "log-router", "image": "fluent-bit", "essential": true},
				{"name": "app", "image": "app:1", "portMappings": [{"containerPort": 3000}]},
				{"name": "metrics", "image": "exporter", "essential": false, "portMappings": [{"containerPort": 9100}]}
			]}`,
			spec: runtime.TaskSpec{Image: "app:1", Port: 3000},
			run:  "app",
			warnings: []string{
				"containerDefinitions[0] (log-router): not run; cutover runs only the essential container with a port mapping, containerDefinitions[1] (app)",
				"containerDefinitions[2] (metrics): not run; cutover runs only the essential container with a port mapping, containerDefinitions[1] (app)",
			},
		},
		{
			name: "unsupported and unknown fields anywhere, with their paths",
			json: `{"containerDefinitions": [{"name": "app", "image": "i",
				"memory": 256, "memoryReservation": 128,
				"environment": [{"name": "A", "value": "1", "type": "plain"}, {"name": "A", "value": "2"}],
				"secrets": [{"name": "DB", "valueFrom": "arn:..."}],
				"portMappings": [
					{"containerPort": 53, "protocol": "udp"},
					{"containerPort": 8080, "name": "http", "appProtocol": "http"},
					{"containerPort": 9090}
				],
				"healthCheck": {"command": ["CMD", "true"], "bogus": 1}
			}], "volumes": [], "tags": [{"key": "a", "value": "b"}]}`,
			spec: runtime.TaskSpec{
				Image:     "i",
				Env:       map[string]string{"A": "2"},
				Port:      8080,
				Resources: runtime.Resources{MemoryBytes: 256 << 20},
			},
			run:    "app",
			health: &HealthCheck{Command: []string{"CMD", "true"}, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3},
			warnings: []string{
				"volumes: not supported by cutover; ignored",
				"tags: not supported by cutover; ignored",
				"containerDefinitions[0].memoryReservation: soft memory limits are not supported by cutover; ignored (memory is the hard limit)",
				"containerDefinitions[0].environment[0].type: not supported by cutover; ignored",
				"containerDefinitions[0].environment[1]: A is set twice; the later value wins",
				"containerDefinitions[0].secrets: not supported by cutover; ignored",
				"containerDefinitions[0].portMappings[1].name: not supported by cutover; ignored",
				"containerDefinitions[0].portMappings[1].appProtocol: not supported by cutover; ignored",
				"containerDefinitions[0].healthCheck.bogus: not supported by cutover; ignored",
				"containerDefinitions[0].portMappings[0]: cutover publishes one tcp port per task; 53/udp ignored",
				"containerDefinitions[0].portMappings[2]: cutover publishes one tcp port per task; 9090/tcp ignored",
			},
		},
		{
			name: "task-level size in units, container without its own",
			json: `{"cpu": "0.25 vCPU", "memory": "2 GB", "containerDefinitions": [{"name": "app", "image": "i", "portMappings": [{"containerPort": 80}]}]}`,
			spec: runtime.TaskSpec{Image: "i", Port: 80, Resources: runtime.Resources{MemoryBytes: 2048 << 20, CPUs: 0.25}},
			run:  "app",
		},
		{
			name: "container size wins over task size; nulls are absent",
			json: `{"cpu": 1024, "memory": 4096, "containerDefinitions": [{"name": "app", "image": "i", "cpu": 512, "memory": 128,
				"command": null, "environment": null, "healthCheck": null, "essential": null, "portMappings": [{"containerPort": 80, "hostPort": null}]}]}`,
			spec: runtime.TaskSpec{Image: "i", Port: 80, Resources: runtime.Resources{MemoryBytes: 128 << 20, CPUs: 0.5}},
			run:  "app",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td, err := ParseTaskDef([]byte(tt.json))
			if err != nil {
				t.Fatalf("ParseTaskDef: %v", err)
			}
			spec, run, warnings, err := td.TaskSpec()
			if err != nil {
				t.Fatalf("TaskSpec: %v", err)
			}
			if !reflect.DeepEqual(spec, tt.spec) {
				t.Errorf("spec =\n%+v\nwant\n%+v", spec, tt.spec)
			}
			if run.Name != tt.run {
				t.Errorf("container run = %q; want %q", run.Name, tt.run)
			}
			if !reflect.DeepEqual(run.HealthCheck, tt.health) {
				t.Errorf("HealthCheck = %+v; want %+v", run.HealthCheck, tt.health)
			}
			if !slices.Equal(warnings, tt.warnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(tt.warnings, "\n"))
			}
		})
	}
}

func TestParseTaskDefErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string // substring of the error
	}{
		{"syntax error with its position", "{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"a\",, \"image\": \"i\"}\n  ]\n}", "line 4, column 18: invalid character ','"},
		{"truncated document", "{\n  \"family\": \"web\",\n", "line 2, column 19: unexpected end of JSON input"},
		{"empty document", "", "line 1, column 1: unexpected end of JSON input"},
		{"not an object", `["web"]`, "want a JSON object, got an array"},
		{"no containers", `{"family": "web"}`, "containerDefinitions: at least one container is required"},
		{"describe-task-definition output", `{"taskDefinition": {"containerDefinitions": []}}`, `use its "taskDefinition" object`},
		{"containers not an array", `{"containerDefinitions": {"name": "a"}}`, "containerDefinitions: want an array, got an object"},
		{"container not an object", `{"containerDefinitions": ["a"]}`, "containerDefinitions[0]: want an object, got a string"},
		{"no image", `{"containerDefinitions": [{"name": "a"}]}`, "containerDefinitions[0].image: required"},
		{"no name", `{"containerDefinitions": [{"image": "i"}]}`, "containerDefinitions[0].name: required"},
		{"wrong type", `{"containerDefinitions": [{"name": "a", "image": "i", "memory": "lots"}]}`, "containerDefinitions[0].memory: want a whole number, got a string"},
		{"fraction", `{"containerDefinitions": [{"name": "a", "image": "i", "cpu": 0.5}]}`, "containerDefinitions[0].cpu: want a whole number, got 0.5"},
		{"command not strings", `{"containerDefinitions": [{"name": "a", "image": "i", "command": ["x", 1]}]}`, "containerDefinitions[0].command[1]: want a string, got a number"},
		{"port out of range", `{"containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 70000}]}]}`, "containerDefinitions[0].portMappings[0].containerPort: 70000 is out of range 1-65535"},
		{"port missing", `{"containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"protocol": "tcp"}]}]}`, "containerDefinitions[0].portMappings[0].containerPort: required"},
		{"bad protocol", `{"containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 80, "protocol": "sctp"}]}]}`, `"sctp": want tcp or udp`},
		{"bad env name", `{"containerDefinitions": [{"name": "a", "image": "i", "environment": [{"name": "A=B", "value": "1"}]}]}`, `containerDefinitions[0].environment[0].name: "A=B"`},
		{"health check command", `{"containerDefinitions": [{"name": "a", "image": "i", "healthCheck": {"command": ["curl localhost"]}}]}`, "containerDefinitions[0].healthCheck.command: want"},
		{"health check interval", `{"containerDefinitions": [{"name": "a", "image": "i", "healthCheck": {"command": ["CMD", "true"], "interval": 1}}]}`, "containerDefinitions[0].healthCheck.interval: 1 is out of range 5-300"},
		{"essential not a bool", `{"containerDefinitions": [{"name": "a", "image": "i", "essential": "yes"}]}`, "containerDefinitions[0].essential: want true or false, got a string"},
		{"task memory", `{"memory": "a lot", "containerDefinitions": [{"name": "a", "image": "i"}]}`, `memory: "a lot": want a whole number or "<n> GB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTaskDef([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseTaskDef error = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestTaskDefTaskSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
	}{
		{"no port mapping", `{"family": "web", "containerDefinitions": [{"name": "a", "image": "i"}]}`, "task definition web: no essential container with a tcp port mapping"},
		{"only udp", `{"containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 53, "protocol": "udp"}]}]}`, "no essential container with a tcp port mapping"},
		{"only a non-essential port", `{"containerDefinitions": [{"name": "a", "image": "i"}, {"name": "b", "image": "i", "essential": false, "portMappings": [{"containerPort": 80}]}]}`, "no essential container with a tcp port mapping"},
		{"two candidates", `{"containerDefinitions": [
			{"name": "a", "image": "i", "portMappings": [{"containerPort": 80}]},
			{"name": "b", "image": "i", "portMappings": [{"containerPort": 81}]}]}`,
			"2 essential containers with a tcp port mapping (containerDefinitions[0] (a), containerDefinitions[1] (b)); cutover runs one container per task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td, err := ParseTaskDef([]byte(tt.json))
			if err != nil {
				t.Fatalf("ParseTaskDef: %v", err)
			}
			_, _, _, err = td.TaskSpec()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TaskSpec error = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParseTaskDef(f *testing.F) {
	seed, err := os.ReadFile("testdata/seed-taskdef.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 80}], "healthCheck": {"command": ["CMD", "x"]}}]}`))
	f.Add([]byte(`{"cpu": "1 vCPU", "memory": "0.5 GB", "containerDefinitions": [{"name": "a", "image": "i", "environment": [{"name": "A"}]}]}`))
	f.Add([]byte(`{"containerDefinitions": [{"name": "a",, }]}`))
	f.Add([]byte("\n\n  [1, 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := ParseTaskDef(data)
		if err != nil {
			return
		}
		if len(td.Containers) == 0 {
			t.Fatal("parsed a task definition without containers")
		}
		spec, run, _, err := td.TaskSpec()
		if err != nil {
			return
		}
		if spec.Image == "" || spec.Image != run.Image || spec.Port < 1 || spec.Port > 65535 {
			t.Fatalf("spec %+v from container %+v", spec, run)
		}
		if spec.Resources.MemoryBytes < 0 || spec.Resources.CPUs < 0 {
			t.Fatalf("negative resources in %+v", spec)
		}
	})
}
