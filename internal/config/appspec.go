package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AppSpec is the part of a CodeDeploy ECS appspec.yaml that cutover uses:
// the target container and port, and the lifecycle hooks. A hook that
// names a Lambda function in AWS names a shell command or an HTTP URL here.
type AppSpec struct {
	TaskDefinition string
	ContainerName  string
	ContainerPort  int
	Hooks          map[string][]Hook
	// Warnings name fields that are valid in AWS but mean nothing to
	// cutover (NetworkConfiguration, PlatformVersion, ...).
	Warnings []string
}

// LoadAppSpec reads and checks an appspec.yaml file.
func LoadAppSpec(path string) (*AppSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading appspec: %w", err)
	}
	return ParseAppSpec(path, data)
}

// ParseAppSpec parses appspec.yaml content (ECS form, version 0.0).
func ParseAppSpec(name string, data []byte) (*AppSpec, error) {
	w := &walker{file: name}
	root := w.parseDocument(data)
	if root == nil {
		return nil, w.err()
	}
	spec := w.appSpec(root)
	if err := w.err(); err != nil {
		return nil, err
	}
	return spec, nil
}

func (w *walker) appSpec(root *yaml.Node) *AppSpec {
	spec := &AppSpec{}
	f := w.fields(root, "", "version", "Resources", "Hooks")
	if f == nil {
		return spec
	}
	if v := w.required(f, root, "", "version", "the only valid version is 0.0"); v != nil {
		if s := w.str(v, "version"); s != "0.0" && s != "0" {
			w.errorf(v, "version", "%q is not supported; the only valid value is 0.0", s)
		}
	}
	if v := w.required(f, root, "", "Resources", "list one TargetService"); v != nil {
		items := w.list(v, "Resources")
		if len(items) != 1 && resolve(v).Kind == yaml.SequenceNode {
			w.errorf(v, "Resources", "has %d entries; an ECS appspec has exactly one TargetService", len(items))
		}
		if len(items) > 0 {
			w.targetService(spec, items[0], "Resources[0]")
		}
	}
	if v := f["Hooks"]; v != nil {
		spec.Hooks = map[string][]Hook{}
		for i, item := range w.list(v, "Hooks") {
			path := index("Hooks", i)
			item = resolve(item)
			if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
				w.errorf(item, path, "must be one mapping of event to hook, e.g. - AfterAllowTestTraffic: ./smoke.sh")
				continue
			}
			k, val := item.Content[0], item.Content[1]
			field := join(path, k.Value)
			if !slices.Contains(HookEvents, k.Value) {
				w.errorf(k, field, "%q is not a hookable lifecycle event; valid: %s", k.Value, strings.Join(HookEvents, ", "))
				continue
			}
			if h, ok := w.hook(val, field); ok {
				spec.Hooks[k.Value] = append(spec.Hooks[k.Value], h)
			}
		}
	}
	return spec
}

func (w *walker) targetService(spec *AppSpec, n *yaml.Node, path string) {
	f := w.fields(n, path, "TargetService")
	if f == nil {
		return
	}
	ts := w.required(f, n, path, "TargetService", "an ECS appspec's resource is a TargetService")
	if ts == nil {
		return
	}
	path += ".TargetService"
	tf := w.fields(ts, path, "Type", "Properties")
	if tf == nil {
		return
	}
	if v := w.required(tf, ts, path, "Type", "must be AWS::ECS::Service"); v != nil {
		if t := w.str(v, path+".Type"); t != "AWS::ECS::Service" {
			w.errorf(v, path+".Type", "%q is not supported; valid: AWS::ECS::Service", t)
		}
	}
	props := w.required(tf, ts, path, "Properties", "give TaskDefinition and LoadBalancerInfo")
	if props == nil {
		return
	}
	path += ".Properties"
	pf := w.fields(props, path, "TaskDefinition", "LoadBalancerInfo", "PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy")
	if pf == nil {
		return
	}
	if v := w.required(pf, props, path, "TaskDefinition", `name the task definition (or "<TASK_DEFINITION>")`); v != nil {
		spec.TaskDefinition = w.str(v, path+".TaskDefinition")
	}
	if lbi := w.required(pf, props, path, "LoadBalancerInfo", "give ContainerName and ContainerPort"); lbi != nil {
		lp := path + ".LoadBalancerInfo"
		lf := w.fields(lbi, lp, "ContainerName", "ContainerPort")
		if v := w.required(lf, lbi, lp, "ContainerName", "name the container that receives traffic"); v != nil {
			spec.ContainerName = w.str(v, lp+".ContainerName")
		}
		if v := w.required(lf, lbi, lp, "ContainerPort", "give the container's port"); v != nil {
			spec.ContainerPort = w.integer(v, lp+".ContainerPort", 1, 65535)
		}
	}
	for _, k := range []string{"PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy"} {
		if v := pf[k]; v != nil {
			spec.Warnings = append(spec.Warnings, fmt.Sprintf("%s:%d: %s.%s: not used by cutover; ignored", w.file, v.Line, path, k))
		}
	}
}

// mergeAppSpec adds an appspec's hooks after cutover.yaml's and checks
// that its container port agrees with the service's.
func (a *App) mergeAppSpec(path string, spec *AppSpec) error {
	if spec.ContainerPort != 0 && spec.ContainerPort != a.Service.Port {
		return &Error{File: path, Field: "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort",
			Msg: fmt.Sprintf("%d differs from service.port %d in %s", spec.ContainerPort, a.Service.Port, AppFile)}
	}
	if a.Deploy.Hooks == nil {
		a.Deploy.Hooks = map[string][]Hook{}
	}
	for _, ev := range HookEvents {
		a.Deploy.Hooks[ev] = append(a.Deploy.Hooks[ev], spec.Hooks[ev]...)
		if len(a.Deploy.Hooks[ev]) == 0 {
			delete(a.Deploy.Hooks, ev)
		}
	}
	a.Warnings = append(a.Warnings, spec.Warnings...)
	return nil
}
