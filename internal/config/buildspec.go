package config

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// BuildspecFile is the name cutover build looks for in a source directory.
const BuildspecFile = "buildspec.yml"

// Build phases in the order they run, with the names buildspec.yml uses.
const (
	PhaseInstall   = "install"
	PhasePreBuild  = "pre_build"
	PhaseBuild     = "build"
	PhasePostBuild = "post_build"
)

// BuildPhases lists the phases of a buildspec in the order they run.
var BuildPhases = []string{PhaseInstall, PhasePreBuild, PhaseBuild, PhasePostBuild}

// On-failure actions of a phase. An empty OnFailure means CodeBuild's
// default transitions.
const (
	OnFailureAbort    = "ABORT"
	OnFailureContinue = "CONTINUE"
)

// Shells a buildspec may name in env.shell.
const (
	ShellBash = "bash"
	ShellSh   = "/bin/sh"
)

// Buildspec is a CodeBuild buildspec.yml, version 0.2, as cutover runs it.
// Fields AWS accepts but cutover cannot honour are either refused by the
// parser (batch builds, on-failure RETRY) or listed in Warnings (proxy,
// reports, s3-prefix, ...).
type Buildspec struct {
	Version string
	// RunAs is the Linux user the commands run as; empty means the user
	// running cutover. The executor refuses any other user.
	RunAs string
	Env   BuildEnv
	// Phases always holds the four phases in the order they run; a phase
	// the file leaves out has no commands.
	Phases    [4]BuildPhase
	Artifacts *BuildArtifacts // nil when the file has no artifacts section
	Cache     *BuildCache     // nil when the file has no cache section
	// Warnings name fields that are valid in CodeBuild but ignored here,
	// as "file:line: field: why".
	Warnings []string
}

// Phase returns the phase named name (install, pre_build, build or
// post_build).
func (b *Buildspec) Phase(name string) *BuildPhase {
	for i := range b.Phases {
		if b.Phases[i].Name == name {
			return &b.Phases[i]
		}
	}
	return nil
}

// BuildEnv is the env section of a buildspec.
type BuildEnv struct {
	Shell string // ShellBash or ShellSh
	// Variables are set literally, without expansion, as in CodeBuild.
	Variables map[string]string
	// ParameterStore and SecretsManager map a variable to the reference
	// of its secret value, as written (a parameter name, or
	// secret-id[:json-key[:version-stage[:version-id]]]). cutover reads the
	// values from its own secrets, not from AWS, and masks them in logs.
	ParameterStore map[string]string
	SecretsManager map[string]string
	// ExportedVariables are read from the shell at the end of the build
	// and handed to the pipeline's later stages.
	ExportedVariables   []string
	GitCredentialHelper bool
}

// BuildPhase is one phase of a buildspec.
type BuildPhase struct {
	Name      string
	RunAs     string
	OnFailure string // "", OnFailureAbort or OnFailureContinue
	// RuntimeVersions (install only) are recorded but not installed:
	// cutover uses the tools found on PATH.
	RuntimeVersions map[string]string
	Commands        []string
	Finally         []string
}

// BuildArtifacts is the artifacts section of a buildspec.
type BuildArtifacts struct {
	Files          []string // globs relative to BaseDirectory; ** matches any depth
	Name           string
	DiscardPaths   bool
	BaseDirectory  string // relative to the source directory; "" is the source directory
	ExcludePaths   []string
	EnableSymlinks bool
}

// BuildCache is the cache section of a buildspec.
type BuildCache struct {
	// Paths are absolute (or ~/...) or relative to the source directory,
	// optionally ending in a glob such as /**/*.
	Paths []string
	Key   string // accepted and ignored: cutover keeps one cache per project
}

var (
	buildspecTopLevel = []string{"version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"}
	buildspecEnv      = []string{"shell", "variables", "parameter-store", "exported-variables", "secrets-manager", "git-credential-helper"}
	buildspecPhase    = []string{"run-as", "on-failure", "runtime-versions", "commands", "finally"}
	buildspecArtifact = []string{"files", "name", "discard-paths", "base-directory", "exclude-paths", "enable-symlinks", "s3-prefix", "secondary-artifacts"}
	buildspecCache    = []string{"paths", "key", "fallback-keys", "action"}

	linuxUserRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*\$?$`)
)

// LoadBuildspec reads and checks a buildspec.yml file.
func LoadBuildspec(path string) (*Buildspec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading buildspec: %w", err)
	}
	return ParseBuildspec(path, data)
}

// ParseBuildspec parses buildspec.yml content. Every problem is reported
// with its file, line, column and field.
func ParseBuildspec(name string, data []byte) (*Buildspec, error) {
	w := &walker{file: name}
	root := w.parseDocument(data)
	if root == nil {
		return nil, w.err()
	}
	spec := w.buildspec(root)
	if err := w.err(); err != nil {
		return nil, err
	}
	return spec, nil
}

func (w *walker) buildspec(root *yaml.Node) *Buildspec {
	spec := &Buildspec{}
	for i, name := range BuildPhases {
		spec.Phases[i].Name = name
	}
	f := w.fields(root, "", buildspecTopLevel...)
	if f == nil {
		return spec
	}
	if v := w.required(f, root, "", "version", "write version: 0.2"); v != nil {
		switch spec.Version = w.str(v, "version"); spec.Version {
		case "0.2":
		case "0.1":
			w.errorf(v, "version", "0.1 is not supported (it runs each command in its own shell); only version 0.2 is supported")
		default:
			w.errorf(v, "version", "%q is not supported; only version 0.2 is supported", spec.Version)
		}
	}
	if v := f["run-as"]; v != nil {
		spec.RunAs = w.runAsUser(v, "run-as")
	}
	if v := f["env"]; v != nil {
		spec.Env = w.buildEnv(v)
	}
	if spec.Env.Shell == "" {
		spec.Env.Shell = ShellBash
	}
	if v := f["proxy"]; v != nil {
		pf := w.fields(v, "proxy", "upload-artifacts", "logs")
		for _, k := range []string{"upload-artifacts", "logs"} {
			if pv := pf[k]; pv != nil {
				w.codebuildBool(pv, "proxy."+k)
			}
		}
		w.buildspecWarn(spec, v, "proxy", "cutover builds run without CodeBuild's proxy server; ignored")
	}
	if v := f["batch"]; v != nil {
		w.errorf(v, "batch", "batch builds are not supported by cutover; remove the batch section")
	}
	if v := w.required(f, root, "", "phases", "list at least one of "+strings.Join(BuildPhases, ", ")); v != nil {
		w.buildPhases(spec, v)
	}
	if v := f["reports"]; v != nil {
		w.buildReports(v)
		w.buildspecWarn(spec, v, "reports", "test reports are not supported by cutover; the report files are not collected")
	}
	if v := f["artifacts"]; v != nil {
		spec.Artifacts = w.buildArtifacts(spec, v)
	}
	if v := f["cache"]; v != nil {
		spec.Cache = w.buildCache(spec, v)
	}
	return spec
}

func (w *walker) buildEnv(n *yaml.Node) BuildEnv {
	var env BuildEnv
	f := w.fields(n, "env", buildspecEnv...)
	if v := f["shell"]; v != nil {
		switch s := w.str(v, "env.shell"); s {
		case "bash", "/bin/bash":
			env.Shell = ShellBash
		case "sh", "/bin/sh":
			env.Shell = ShellSh
		default:
			w.errorf(v, "env.shell", "%q is not supported; valid: bash, /bin/sh", s)
		}
	}
	if v := f["variables"]; v != nil {
		env.Variables = w.env(v, "env.variables")
		for _, k := range mappingKeyNodes(v) {
			if strings.HasPrefix(k.Value, "CODEBUILD_") {
				w.errorf(k, "env.variables."+k.Value, "names starting with CODEBUILD_ are reserved")
			}
		}
	}
	secretNames := map[string]bool{}
	if v := f["parameter-store"]; v != nil {
		env.ParameterStore = w.secretRefs(v, "env.parameter-store", env.Variables, secretNames)
	}
	if v := f["secrets-manager"]; v != nil {
		env.SecretsManager = w.secretRefs(v, "env.secrets-manager", env.Variables, secretNames)
	}
	if v := f["exported-variables"]; v != nil {
		items := w.list(v, "env.exported-variables")
		for i, item := range items {
			path := index("env.exported-variables", i)
			name := w.str(item, path)
			switch {
			case name == "":
			case !envNameRE.MatchString(name):
				w.errorf(item, path, "%q is not a valid environment variable name", name)
			case strings.HasPrefix(name, "AWS_"):
				w.errorf(item, path, "variables starting with AWS_ cannot be exported")
			case secretNames[name]:
				w.errorf(item, path, "%s holds a secret; secrets cannot be exported", name)
			case slices.Contains(env.ExportedVariables, name):
				w.errorf(item, path, "%s is listed twice", name)
			default:
				env.ExportedVariables = append(env.ExportedVariables, name)
			}
		}
	}
	if v := f["git-credential-helper"]; v != nil {
		env.GitCredentialHelper = w.codebuildBool(v, "env.git-credential-helper")
	}
	return env
}

// secretRefs reads a mapping of variable to secret reference. seen holds
// the secret variables read so far, across both sections.
func (w *walker) secretRefs(n *yaml.Node, path string, variables map[string]string, seen map[string]bool) map[string]string {
	refs := w.env(n, path)
	for _, k := range mappingKeyNodes(n) {
		name, field := k.Value, join(path, k.Value)
		ref, ok := refs[name]
		_, plain := variables[name]
		switch {
		case ok && strings.TrimSpace(ref) == "":
			w.errorf(k, field, "must name a secret")
		case strings.HasPrefix(name, "CODEBUILD_"):
			w.errorf(k, field, "names starting with CODEBUILD_ are reserved")
		case plain:
			w.errorf(k, field, "%s is also set in env.variables", name)
		case seen[name]:
			w.errorf(k, field, "%s is set by both parameter-store and secrets-manager", name)
		}
		seen[name] = true
	}
	return refs
}

// mappingKeyNodes returns the key nodes of a mapping, in file order.
func mappingKeyNodes(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var keys []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i])
	}
	return keys
}

func (w *walker) buildPhases(spec *Buildspec, n *yaml.Node) {
	f := w.fields(n, "phases", BuildPhases...)
	for i, name := range BuildPhases {
		v := f[name]
		if v == nil {
			continue
		}
		path := "phases." + name
		allowed := buildspecPhase
		if name != PhaseInstall {
			allowed = slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == "runtime-versions" })
		}
		pf := w.fields(v, path, allowed...)
		if pf == nil {
			continue
		}
		p := &spec.Phases[i]
		if rv := pf["run-as"]; rv != nil {
			p.RunAs = w.runAsUser(rv, path+".run-as")
		}
		if rv := pf["on-failure"]; rv != nil {
			switch s := w.str(rv, path+".on-failure"); {
			case s == OnFailureAbort || s == OnFailureContinue:
				p.OnFailure = s
			case strings.HasPrefix(s, "RETRY"):
				w.errorf(rv, path+".on-failure", "%s is not supported by cutover; valid: ABORT, CONTINUE", s)
			default:
				w.errorf(rv, path+".on-failure", "%q is not valid; valid: ABORT, CONTINUE", s)
			}
		}
		if rv := pf["runtime-versions"]; rv != nil {
			p.RuntimeVersions = w.runtimeVersions(rv, path+".runtime-versions")
		}
		if rv := pf["commands"]; rv != nil {
			p.Commands = w.buildCommands(rv, path+".commands")
		}
		if rv := pf["finally"]; rv != nil {
			p.Finally = w.buildCommands(rv, path+".finally")
		}
	}
}

// buildCommands reads a list of shell commands. A command with an unquoted
// ": " is a YAML mapping, the most common mistake, and says so.
func (w *walker) buildCommands(n *yaml.Node, path string) []string {
	var out []string
	for i, item := range w.list(n, path) {
		p := index(path, i)
		item = resolve(item)
		switch {
		case item.Kind == yaml.MappingNode:
			w.errorf(item, p, "must be a string; a command containing \": \" must be quoted")
		case item.Kind != yaml.ScalarNode || item.Tag == "!!null":
			w.errorf(item, p, "must be a command string, not %s", kindName(item))
		case strings.TrimSpace(item.Value) == "":
			w.errorf(item, p, "must not be empty")
		default:
			out = append(out, item.Value)
		}
	}
	return out
}

func (w *walker) runtimeVersions(n *yaml.Node, path string) map[string]string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, "must be a mapping of runtime: version, e.g. nodejs: 20.x")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		out[k.Value] = w.str(n.Content[i+1], join(path, k.Value))
	}
	return out
}

func (w *walker) buildArtifacts(spec *Buildspec, n *yaml.Node) *BuildArtifacts {
	a := &BuildArtifacts{}
	f := w.fields(n, "artifacts", buildspecArtifact...)
	if f == nil {
		return a
	}
	if v := w.required(f, n, "artifacts", "files", "list the files to keep, e.g. - '**/*'"); v != nil {
		a.Files = w.artifactPatterns(v, "artifacts.files")
		if len(a.Files) == 0 && resolve(v).Kind == yaml.SequenceNode {
			w.errorf(v, "artifacts.files", "must list at least one file")
		}
	}
	if v := f["name"]; v != nil {
		a.Name = w.str(v, "artifacts.name")
	}
	if v := f["discard-paths"]; v != nil {
		a.DiscardPaths = w.codebuildBool(v, "artifacts.discard-paths")
	}
	if v := f["base-directory"]; v != nil {
		a.BaseDirectory = w.sourceRelPath(v, "artifacts.base-directory")
		if strings.ContainsAny(a.BaseDirectory, "*?[") {
			w.errorf(v, "artifacts.base-directory", "globs in base-directory are not supported by cutover; name one directory")
		}
	}
	if v := f["exclude-paths"]; v != nil {
		a.ExcludePaths = w.artifactPatterns(v, "artifacts.exclude-paths")
	}
	if v := f["enable-symlinks"]; v != nil {
		a.EnableSymlinks = w.codebuildBool(v, "artifacts.enable-symlinks")
	}
	if v := f["s3-prefix"]; v != nil {
		w.str(v, "artifacts.s3-prefix")
		w.buildspecWarn(spec, v, "artifacts.s3-prefix", "artifacts are written to a local directory, not S3; ignored")
	}
	if v := f["secondary-artifacts"]; v != nil {
		w.buildspecWarn(spec, v, "artifacts.secondary-artifacts", "secondary artifacts are not supported by cutover; only the primary artifact is written")
	}
	return a
}

// artifactPatterns reads a list of relative glob patterns.
func (w *walker) artifactPatterns(n *yaml.Node, path string) []string {
	var out []string
	for i, item := range w.list(n, path) {
		if p := w.sourceRelPath(item, index(path, i)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sourceRelPath reads a path that must stay inside the source directory.
func (w *walker) sourceRelPath(n *yaml.Node, path string) string {
	s := w.str(n, path)
	if s == "" {
		if resolve(n).Kind == yaml.ScalarNode && resolve(n).Tag != "!!null" {
			w.errorf(n, path, "must not be empty")
		}
		return ""
	}
	if strings.HasPrefix(s, "/") {
		w.errorf(n, path, "%q is absolute; paths are relative to the source directory", s)
		return ""
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			w.errorf(n, path, "%q leaves the source directory", s)
			return ""
		}
	}
	return s
}

func (w *walker) buildCache(spec *Buildspec, n *yaml.Node) *BuildCache {
	c := &BuildCache{}
	f := w.fields(n, "cache", buildspecCache...)
	if f == nil {
		return c
	}
	if v := w.required(f, n, "cache", "paths", "list the paths to cache, e.g. - ~/.npm/**/*"); v != nil {
		for i, item := range w.list(v, "cache.paths") {
			p := index("cache.paths", i)
			s := w.str(item, p)
			switch {
			case s == "":
			case strings.Contains(s, ".."):
				w.errorf(item, p, "%q: .. is not allowed in cache paths", s)
			default:
				c.Paths = append(c.Paths, s)
			}
		}
	}
	if v := f["key"]; v != nil {
		c.Key = w.str(v, "cache.key")
		w.buildspecWarn(spec, v, "cache.key", "cutover keeps one local cache per project; the key is ignored")
	}
	for _, k := range []string{"fallback-keys", "action"} {
		if v := f[k]; v != nil {
			w.buildspecWarn(spec, v, "cache."+k, "cutover keeps one local cache per project; ignored")
		}
	}
	return c
}

// buildReports checks the shape of the reports section, which is then ignored.
func (w *walker) buildReports(n *yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		w.errorf(n, "reports", "must be a mapping of report group to {files, ...}, not %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := join("reports", k.Value)
		rf := w.fields(v, path, "files", "base-directory", "discard-paths", "file-format")
		if rf != nil {
			w.required(rf, v, path, "files", "list the report files")
		}
	}
}

// codebuildBool reads CodeBuild's booleans: yes/no as well as true/false.
func (w *walker) codebuildBool(n *yaml.Node, path string) bool {
	n = resolve(n)
	switch strings.ToLower(n.Value) {
	case "yes", "true", "on":
		if n.Kind == yaml.ScalarNode {
			return true
		}
	case "no", "false", "off":
		if n.Kind == yaml.ScalarNode {
			return false
		}
	}
	w.errorf(n, path, "must be yes or no, not %s", kindName(n))
	return false
}

func (w *walker) runAsUser(n *yaml.Node, path string) string {
	s := w.str(n, path)
	if s != "" && !linuxUserRE.MatchString(s) {
		w.errorf(n, path, "%q is not a valid Linux user name", s)
	}
	return s
}

func (w *walker) buildspecWarn(spec *Buildspec, n *yaml.Node, field, msg string) {
	spec.Warnings = append(spec.Warnings, fmt.Sprintf("%s:%d: %s: %s", w.file, n.Line, field, msg))
}
