package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// seedBuildspec is the buildspec of the seed document, with its
// indentation restored.
const seedBuildspec = `version: 0.2
phases:
  pre_build:
    commands:
      - IMAGE_TAG=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c 1-7)
      - npm ci
      - $(aws ecr get-login --region $AWS_DEFAULT_REGION)
  build:
    commands:
      - echo Running tests
      - npm run test
      - echo Packaging application
      - docker build -t $REPOSITORY_URI:latest .
      - docker tag $REPOSITORY_URI:latest $REPOSITORY_URI:$IMAGE_TAG
  post_build:
    commands:
      - echo Pushing the Docker images...
      - docker push $REPOSITORY_URI:$IMAGE_TAG
      - echo Writing image definitions file...
      - printf '[{"name":"expresso-staging","imageUri":"%s"}]' $REPOSITORY_URI:$IMAGE_TAG > imagedefinitions.json
cache:
  paths:
    - ~/.npm
    - /var/lib/docker/**/*
`

// seed004Buildspec is the other seed document's buildspec, as written:
// one-space indentation, phases out of order, an install phase with only
// runtime-versions.
const seed004Buildspec = `version: 0.2

env:
  variables:
    AWS_ACCOUNT_ID: '341546619470'
phases:
 pre_build:
   commands:
     - REPOSITORY_URI=${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_DEFAULT_REGION}.amazonaws.com/ecs-blue-green-nodejs
 install:
   runtime-versions:
     java: corretto11
 build:
   commands:
   - docker build -t ecs-blue-green-nodejs .
   
artifacts:
  files: 
    - appspec.yaml
`

func TestParseBuildspecSeed004(t *testing.T) {
	spec, err := ParseBuildspec("buildspec.yml", []byte(seed004Buildspec))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Phases[0].Name != PhaseInstall || spec.Phases[0].RuntimeVersions["java"] != "corretto11" || len(spec.Phases[0].Commands) != 0 {
		t.Errorf("install = %+v", spec.Phases[0])
	}
	if spec.Env.Variables["AWS_ACCOUNT_ID"] != "341546619470" || len(spec.Phase(PhasePreBuild).Commands) != 1 {
		t.Errorf("spec = %+v", spec)
	}
	if spec.Artifacts == nil || spec.Artifacts.Files[0] != "appspec.yaml" {
		t.Errorf("artifacts = %+v", spec.Artifacts)
	}
}

// fullBuildspec uses every field cutover accepts.
const fullBuildspec = `version: 0.2
run-as: builder
env:
  shell: bash
  variables:
    GREETING: hello
    PORT: 8080
    LITERAL: $PATH:/x
  parameter-store:
    NPM_TOKEN: /ci/npm-token
  secrets-manager:
    DB_PASSWORD: prod/db:password
  exported-variables: [IMAGE_TAG, GREETING]
  git-credential-helper: yes
proxy:
  upload-artifacts: no
  logs: yes
phases:
  install:
    on-failure: CONTINUE
    runtime-versions:
      nodejs: 20.x
    commands:
      - node --version
    finally:
      - echo done
  pre_build:
    run-as: root
    on-failure: ABORT
    commands: ["IMAGE_TAG=abc"]
  build:
    commands:
      - |
        echo multi
        echo line
  post_build:
    commands:
      - 'echo "key: value"'
reports:
  unit:
    files: [report.xml]
    file-format: JUNITXML
artifacts:
  files:
    - '**/*'
  name: app-$(date +%Y)
  discard-paths: yes
  base-directory: dist
  exclude-paths: ['**/*.map']
  enable-symlinks: no
  s3-prefix: builds
  secondary-artifacts:
    other: {files: [x]}
cache:
  key: npm-$(codebuild-hash-files package-lock.json)
  paths:
    - node_modules/**/*
`

func TestParseBuildspecSeed(t *testing.T) {
	spec, err := ParseBuildspec("buildspec.yml", []byte(seedBuildspec))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Version != "0.2" || spec.Env.Shell != ShellBash {
		t.Errorf("version %q shell %q", spec.Version, spec.Env.Shell)
	}
	var names []string
	for _, p := range spec.Phases {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, BuildPhases) {
		t.Errorf("phases = %v, want all four in order", names)
	}
	if n := len(spec.Phase(PhaseInstall).Commands); n != 0 {
		t.Errorf("install has %d commands, want 0", n)
	}
	if got := spec.Phase(PhaseBuild).Commands; len(got) != 5 || got[1] != "npm run test" {
		t.Errorf("build commands = %q", got)
	}
	if got := spec.Phase(PhasePostBuild).Commands[3]; !strings.HasPrefix(got, `printf '[{"name":"expresso-staging"`) {
		t.Errorf("post_build[3] = %q", got)
	}
	if spec.Cache == nil || !slices.Equal(spec.Cache.Paths, []string{"~/.npm", "/var/lib/docker/**/*"}) {
		t.Errorf("cache = %+v", spec.Cache)
	}
	if spec.Artifacts != nil || len(spec.Warnings) != 0 {
		t.Errorf("artifacts %+v warnings %q", spec.Artifacts, spec.Warnings)
	}
}

func TestParseBuildspecFull(t *testing.T) {
	spec, err := ParseBuildspec("buildspec.yml", []byte(fullBuildspec))
	if err != nil {
		t.Fatal(err)
	}
	if spec.RunAs != "builder" || spec.Phase(PhasePreBuild).RunAs != "root" {
		t.Errorf("run-as %q / %q", spec.RunAs, spec.Phase(PhasePreBuild).RunAs)
	}
	wantVars := map[string]string{"GREETING": "hello", "PORT": "8080", "LITERAL": "$PATH:/x"}
	for k, v := range wantVars {
		if spec.Env.Variables[k] != v {
			t.Errorf("variable %s = %q, want %q", k, spec.Env.Variables[k], v)
		}
	}
	if spec.Env.ParameterStore["NPM_TOKEN"] != "/ci/npm-token" || spec.Env.SecretsManager["DB_PASSWORD"] != "prod/db:password" {
		t.Errorf("secrets = %q, %q", spec.Env.ParameterStore, spec.Env.SecretsManager)
	}
	if !slices.Equal(spec.Env.ExportedVariables, []string{"IMAGE_TAG", "GREETING"}) || !spec.Env.GitCredentialHelper {
		t.Errorf("env = %+v", spec.Env)
	}
	install := spec.Phase(PhaseInstall)
	if install.OnFailure != OnFailureContinue || install.RuntimeVersions["nodejs"] != "20.x" || !slices.Equal(install.Finally, []string{"echo done"}) {
		t.Errorf("install = %+v", install)
	}
	if spec.Phase(PhasePreBuild).OnFailure != OnFailureAbort {
		t.Errorf("pre_build on-failure = %q", spec.Phase(PhasePreBuild).OnFailure)
	}
	if got := spec.Phase(PhaseBuild).Commands; len(got) != 1 || got[0] != "echo multi\necho line\n" {
		t.Errorf("build commands = %q", got)
	}
	if got := spec.Phase(PhasePostBuild).Commands; len(got) != 1 || got[0] != `echo "key: value"` {
		t.Errorf("post_build commands = %q", got)
	}
	a := spec.Artifacts
	want := BuildArtifacts{Files: []string{"**/*"}, Name: "app-$(date +%Y)", DiscardPaths: true, BaseDirectory: "dist", ExcludePaths: []string{"**/*.map"}}
	if a == nil || !slices.Equal(a.Files, want.Files) || a.Name != want.Name || a.DiscardPaths != want.DiscardPaths ||
		a.BaseDirectory != want.BaseDirectory || !slices.Equal(a.ExcludePaths, want.ExcludePaths) || a.EnableSymlinks {
		t.Errorf("artifacts = %+v, want %+v", a, want)
	}
	if spec.Cache == nil || !slices.Equal(spec.Cache.Paths, []string{"node_modules/**/*"}) || spec.Cache.Key == "" {
		t.Errorf("cache = %+v", spec.Cache)
	}
	for _, field := range []string{"proxy", "reports", "artifacts.s3-prefix", "artifacts.secondary-artifacts", "cache.key"} {
		if !slices.ContainsFunc(spec.Warnings, func(w string) bool { return strings.Contains(w, ": "+field+": ") }) {
			t.Errorf("no warning for %s in %q", field, spec.Warnings)
		}
	}
}

func TestParseBuildspecErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error, first is "line:col: field"
	}{
		{"version 0.1", "version: 0.1\nphases: {build: {commands: [x]}}\n",
			[]string{"buildspec.yml:1:10: version: 0.1 is not supported", "only version 0.2 is supported"}},
		{"version missing", "phases: {build: {commands: [x]}}\n",
			[]string{"buildspec.yml:1:1: version: missing"}},
		{"unknown phase", "version: 0.2\nphases:\n  biuld:\n    commands: [x]\n",
			[]string{"buildspec.yml:3:3: phases.biuld: unknown field; valid fields: install, pre_build, build, post_build"}},
		{"unknown top-level", "version: 0.2\nphase:\n  build: {}\n",
			[]string{"buildspec.yml:2:1: phase: unknown field; valid fields: version, run-as, env,", "phases: missing"}},
		{"unknown phase field", "version: 0.2\nphases:\n  build:\n    command: [x]\n",
			[]string{"buildspec.yml:4:5: phases.build.command: unknown field; valid fields: run-as, on-failure, commands, finally"}},
		{"runtime-versions outside install", "version: 0.2\nphases:\n  build:\n    runtime-versions: {nodejs: 20}\n",
			[]string{"4:5: phases.build.runtime-versions: unknown field"}},
		{"retry", "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-2\n    commands: [x]\n",
			[]string{"4:17: phases.build.on-failure: RETRY-2 is not supported by cutover; valid: ABORT, CONTINUE"}},
		{"bad on-failure", "version: 0.2\nphases:\n  build:\n    on-failure: abort\n",
			[]string{`4:17: phases.build.on-failure: "abort" is not valid; valid: ABORT, CONTINUE`}},
		{"batch", "version: 0.2\nbatch:\n  fast-fail: true\nphases: {build: {commands: [x]}}\n",
			[]string{"3:3: batch: batch builds are not supported"}},
		{"exported secret", "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /my/token\n  exported-variables: [TOKEN]\nphases: {build: {commands: [x]}}\n",
			[]string{"5:24: env.exported-variables[0]: TOKEN holds a secret; secrets cannot be exported"}},
		{"secret twice", "version: 0.2\nenv:\n  parameter-store: {TOKEN: /a}\n  secrets-manager: {TOKEN: 'a:b'}\nphases: {build: {commands: [x]}}\n",
			[]string{"4:21: env.secrets-manager.TOKEN: TOKEN is set by both parameter-store and secrets-manager"}},
		{"secret and variable", "version: 0.2\nenv:\n  variables: {TOKEN: x}\n  parameter-store: {TOKEN: /a}\nphases: {build: {commands: [x]}}\n",
			[]string{"4:21: env.parameter-store.TOKEN: TOKEN is also set in env.variables"}},
		{"empty secret reference", "version: 0.2\nenv:\n  parameter-store: {TOKEN: ''}\nphases: {build: {commands: [x]}}\n",
			[]string{"env.parameter-store.TOKEN: must name a secret"}},
		{"unquoted colon", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo key: value\n",
			[]string{`5:9: phases.build.commands[0]: must be a string; a command containing ": " must be quoted`}},
		{"reserved variable", "version: 0.2\nenv:\n  variables:\n    CODEBUILD_BUILD_ID: x\nphases: {build: {commands: [x]}}\n",
			[]string{"4:5: env.variables.CODEBUILD_BUILD_ID: names starting with CODEBUILD_ are reserved"}},
		{"shell", "version: 0.2\nenv: {shell: powershell.exe}\nphases: {build: {commands: [x]}}\n",
			[]string{`env.shell: "powershell.exe" is not supported; valid: bash, /bin/sh`}},
		{"artifacts without files", "version: 0.2\nphases: {build: {commands: [x]}}\nartifacts:\n  name: x\n",
			[]string{"4:3: artifacts.files: missing"}},
		{"artifact outside source", "version: 0.2\nphases: {build: {commands: [x]}}\nartifacts:\n  files: [../secret]\n",
			[]string{`artifacts.files[0]: "../secret" leaves the source directory`}},
		{"discard-paths", "version: 0.2\nphases: {build: {commands: [x]}}\nartifacts:\n  files: [a]\n  discard-paths: maybe\n",
			[]string{`5:18: artifacts.discard-paths: must be yes or no, not "maybe"`}},
		{"exported AWS_", "version: 0.2\nenv:\n  exported-variables: [AWS_REGION]\nphases: {build: {commands: [x]}}\n",
			[]string{"3:24: env.exported-variables[0]: variables starting with AWS_ cannot be exported"}},
		{"cache without paths", "version: 0.2\nphases: {build: {commands: [x]}}\ncache:\n  key: k\n",
			[]string{"cache.paths: missing"}},
		{"empty phase", "version: 0.2\nphases:\n  build:\n",
			[]string{"phases.build: must be a mapping"}},
		{"syntax", "version: 0.2\nphases:\n  build:\n    commands: [x\n",
			[]string{"buildspec.yml:", "invalid YAML"}},
		{"empty", "", []string{"buildspec.yml: file is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBuildspec("buildspec.yml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestExampleHelloNodeBuildspecLoads(t *testing.T) {
	spec, err := LoadBuildspec("../../examples/hello-node/" + BuildspecFile)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Artifacts == nil || len(spec.Phase(PhaseBuild).Commands) == 0 {
		t.Errorf("hello-node buildspec = %+v", spec)
	}
}

func FuzzParseBuildspec(f *testing.F) {
	f.Add([]byte(seedBuildspec))
	f.Add([]byte(fullBuildspec))
	f.Add([]byte(seed004Buildspec))
	f.Add([]byte("version: 0.2\nphases: {build: {commands: [echo hi]}}\n"))
	f.Add([]byte("version: 0.2\nenv: &a {variables: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseBuildspec("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if spec == nil || spec.Version != "0.2" {
			t.Fatalf("accepted a buildspec that is not version 0.2: %+v", spec)
		}
		for i, p := range spec.Phases {
			if p.Name != BuildPhases[i] {
				t.Fatalf("phase %d is %q", i, p.Name)
			}
			for _, c := range append(slices.Clone(p.Commands), p.Finally...) {
				if strings.TrimSpace(c) == "" {
					t.Fatalf("accepted an empty command in %s", p.Name)
				}
			}
		}
		if a := spec.Artifacts; a != nil && len(a.Files) == 0 {
			t.Fatal("accepted artifacts without files")
		}
	})
}
