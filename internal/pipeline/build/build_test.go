package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
)

// runBuild parses buildspec, runs it in a fresh source directory holding
// files, and returns the result and the log.
func runBuild(t *testing.T, buildspec string, files map[string]string, opts Options) (Result, string, Options) {
	t.Helper()
	spec, err := config.ParseBuildspec("buildspec.yml", []byte(buildspec))
	if err != nil {
		t.Fatalf("parsing the buildspec: %v", err)
	}
	if opts.SrcDir == "" {
		opts.SrcDir = t.TempDir()
	}
	for name, content := range files {
		p := filepath.Join(opts.SrcDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if opts.ArtifactsDir == "" {
		opts.ArtifactsDir = filepath.Join(t.TempDir(), "artifacts")
	}
	var log bytes.Buffer
	opts.Log = &log
	res, err := Run(context.Background(), spec, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("build log:\n%s", log.String())
	return res, log.String(), opts
}

func statuses(res Result) map[string]string {
	out := map[string]string{}
	for _, p := range res.Phases {
		out[p.Name] = p.Status
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestShellStateCarriesOver(t *testing.T) {
	res, _, opts := runBuild(t, `version: 0.2
phases:
  install:
    commands:
      - mkdir -p sub/dir
      - cd sub
  pre_build:
    commands:
      - TAG=v42
      - export EXPORTED=yes
      - cd dir
  build:
    commands:
      - echo "$TAG $EXPORTED $(pwd)" > out.txt
      - sh -c 'echo "$EXPORTED"' >> out.txt
`, nil, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	got := readFile(t, filepath.Join(opts.SrcDir, "sub/dir/out.txt"))
	want := "v42 yes " + filepath.Join(opts.SrcDir, "sub/dir") + "\nyes\n"
	if got != want {
		t.Errorf("out.txt = %q, want %q", got, want)
	}
}

func TestPhaseTransitions(t *testing.T) {
	const record = `echo "$PHASE $CODEBUILD_BUILD_SUCCEEDING" >> "$CODEBUILD_SRC_DIR/ran"`
	phase := func(name, onFailure string, fail bool) string {
		s := "  " + name + ":\n"
		if onFailure != "" {
			s += "    on-failure: " + onFailure + "\n"
		}
		s += "    commands:\n      - PHASE=" + name + "\n      - '" + strings.ReplaceAll(record, "'", "''") + "'\n"
		if fail {
			s += "      - exit_with() { return $1; }; exit_with 3\n      - echo not reached >> \"$CODEBUILD_SRC_DIR/ran\"\n"
		}
		s += "    finally:\n      - echo \"finally $PHASE\" >> \"$CODEBUILD_SRC_DIR/ran\"\n"
		return s
	}
	tests := []struct {
		name      string
		failing   string // the phase whose commands fail
		onFailure string
		ran       []string
		statuses  map[string]string
	}{
		{"all succeed", "", "", []string{"install 1", "finally install", "pre_build 1", "finally pre_build", "build 1", "finally build", "post_build 1", "finally post_build"},
			map[string]string{"INSTALL": StatusSucceeded, "PRE_BUILD": StatusSucceeded, "BUILD": StatusSucceeded, "POST_BUILD": StatusSucceeded}},
		{"install fails: the rest is skipped", "install", "", []string{"install 1", "finally install"},
			map[string]string{"INSTALL": StatusFailed, "PRE_BUILD": StatusSkipped, "BUILD": StatusSkipped, "POST_BUILD": StatusSkipped}},
		{"pre_build fails: the rest is skipped", "pre_build", "", []string{"install 1", "finally install", "pre_build 1", "finally pre_build"},
			map[string]string{"INSTALL": StatusSucceeded, "PRE_BUILD": StatusFailed, "BUILD": StatusSkipped, "POST_BUILD": StatusSkipped}},
		{"build fails: post_build runs, not succeeding", "build", "", []string{"install 1", "finally install", "pre_build 1", "finally pre_build", "build 1", "finally build", "post_build 0", "finally post_build"},
			map[string]string{"BUILD": StatusFailed, "POST_BUILD": StatusSucceeded}},
		{"build fails with ABORT: post_build skipped", "build", "ABORT", []string{"install 1", "finally install", "pre_build 1", "finally pre_build", "build 1", "finally build"},
			map[string]string{"BUILD": StatusFailed, "POST_BUILD": StatusSkipped}},
		{"install fails with CONTINUE: the rest runs", "install", "CONTINUE", []string{"install 1", "finally install", "pre_build 0", "finally pre_build", "build 0", "finally build", "post_build 0", "finally post_build"},
			map[string]string{"INSTALL": StatusFailed, "PRE_BUILD": StatusSucceeded, "BUILD": StatusSucceeded, "POST_BUILD": StatusSucceeded}},
		{"post_build fails", "post_build", "", []string{"install 1", "finally install", "pre_build 1", "finally pre_build", "build 1", "finally build", "post_build 1", "finally post_build"},
			map[string]string{"BUILD": StatusSucceeded, "POST_BUILD": StatusFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := "version: 0.2\nphases:\n"
			for _, name := range config.BuildPhases {
				onFailure := ""
				if name == tt.failing {
					onFailure = tt.onFailure
				}
				spec += phase(name, onFailure, name == tt.failing)
			}
			res, _, opts := runBuild(t, spec, nil, Options{})
			ran := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(opts.SrcDir, "ran"))), "\n")
			if !slices.Equal(ran, tt.ran) {
				t.Errorf("ran %q\nwant %q", ran, tt.ran)
			}
			got := statuses(res)
			for name, want := range tt.statuses {
				if got[name] != want {
					t.Errorf("%s = %s, want %s", name, got[name], want)
				}
			}
			if want := tt.failing == ""; res.Succeeded != want || (res.Status == StatusSucceeded) != want {
				t.Errorf("succeeded = %v (%s), want %v", res.Succeeded, res.Status, want)
			}
			if tt.failing != "" {
				p := res.Phases[slices.Index(config.BuildPhases, tt.failing)]
				if p.ExitCode != 3 || !strings.Contains(p.FailedCommand, "exit_with 3") {
					t.Errorf("failed phase = %+v, want exit 3 of exit_with", p)
				}
			}
		})
	}
}

func TestFailingFinallyFailsThePhase(t *testing.T) {
	res, log, _ := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - echo building
    finally:
      - "false"
      - echo not reached
`, nil, Options{})
	if res.Succeeded || statuses(res)["BUILD"] != StatusFailed {
		t.Fatalf("result = %+v", res)
	}
	if strings.Contains(log, "\nnot reached") {
		t.Error("the finally command after the failing one ran")
	}
	if !strings.Contains(log, "Command did not exit successfully false exit status 1") {
		t.Error("the log does not say which command failed")
	}
}

func TestLogHasPhaseLinesAndOutput(t *testing.T) {
	_, log, _ := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - echo to stdout; echo to stderr >&2
      - printf no-newline
      - echo after
`, nil, Options{})
	for _, want := range []string{
		"Entering phase INSTALL\n",
		"Running command echo to stdout; echo to stderr >&2\nto stdout\nto stderr\n",
		"Running command printf no-newline\nno-newline\n[Container] ",
		"Phase complete: BUILD State: SUCCEEDED\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not contain %q", want)
		}
	}
	if strings.Contains(log, "__cutover_status_") {
		t.Error("the status marker leaked into the log")
	}
}

func TestBuiltinVariables(t *testing.T) {
	res, _, opts := runBuild(t, `version: 0.2
env:
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
    LITERAL: $HOME:/x
phases:
  build:
    commands:
      - env | grep -E '^(CODEBUILD_|CUTOVER_BUILD|FROM_SPEC|OVERRIDDEN|LITERAL)' | sort > env.txt
`, nil, Options{BuildID: "hello:1234", BuildNumber: 7, SourceVersion: "abc123", Initiator: "codepipeline/hello",
		Env: map[string]string{"OVERRIDDEN": "option"}})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(opts.SrcDir, "env.txt"))), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	want := map[string]string{
		"CODEBUILD_BUILD_ID":                "hello:1234",
		"CODEBUILD_BUILD_NUMBER":            "7",
		"CODEBUILD_SOURCE_VERSION":          "abc123",
		"CODEBUILD_RESOLVED_SOURCE_VERSION": "abc123",
		"CODEBUILD_INITIATOR":               "codepipeline/hello",
		"CODEBUILD_SRC_DIR":                 opts.SrcDir,
		"CODEBUILD_BUILD_SUCCEEDING":        "1",
		"CUTOVER_BUILD":                     "1",
		"FROM_SPEC":                         "spec",
		"OVERRIDDEN":                        "option",
		"LITERAL":                           "$HOME:/x",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	ms, err := strconv.ParseInt(env["CODEBUILD_START_TIME"], 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)) > time.Hour || time.Since(time.UnixMilli(ms)) < 0 {
		t.Errorf("CODEBUILD_START_TIME = %q, want the start in ms since the epoch", env["CODEBUILD_START_TIME"])
	}
}

func TestExportedVariables(t *testing.T) {
	res, _, _ := runBuild(t, `version: 0.2
env:
  variables:
    FROM_SPEC: spec
  exported-variables: [IMAGE_TAG, FROM_SPEC, MULTI, NEVER_SET]
phases:
  pre_build:
    commands:
      - IMAGE_TAG=first
      - MULTI="a b
        c"
  post_build:
    commands:
      - IMAGE_TAG=final
`, nil, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	want := map[string]string{"IMAGE_TAG": "final", "FROM_SPEC": "spec", "MULTI": "a b c"}
	if len(res.Exported) != len(want) {
		t.Errorf("exported = %q, want %q", res.Exported, want)
	}
	for k, v := range want {
		if res.Exported[k] != v {
			t.Errorf("exported %s = %q, want %q", k, res.Exported[k], v)
		}
	}
}

func TestExitingShellStartsANewOne(t *testing.T) {
	res, log, _ := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - X=1
      - exit 4
  post_build:
    commands:
      - test -z "$X"
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`, nil, Options{})
	if res.Succeeded || res.Phases[2].ExitCode != 4 || statuses(res)["POST_BUILD"] != StatusSucceeded {
		t.Fatalf("result = %+v", res)
	}
	if !strings.Contains(log, "succeeding=0") {
		t.Error("the new shell does not have CODEBUILD_BUILD_SUCCEEDING=0")
	}
}

func TestTimeoutKillsTheProcessTree(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	start := time.Now()
	res, _, _ := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - sh -c 'sleep 300 & echo $! > `+pidFile+`; wait'
  post_build:
    commands:
      - echo post
`, nil, Options{Timeout: 2 * time.Second})
	if res.Status != StatusTimedOut || res.Succeeded {
		t.Errorf("status = %s, want %s", res.Status, StatusTimedOut)
	}
	if s := statuses(res); s["BUILD"] != StatusTimedOut || s["POST_BUILD"] != StatusSkipped {
		t.Errorf("phases = %v", s)
	}
	if time.Since(start) > time.Minute {
		t.Errorf("Run returned after %s", time.Since(start))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild was SIGKILLed; once reaped by init it is gone.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild sleep %d still runs after the timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zombie reports whether pid is a dead process not yet reaped.
func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestCancelStopsTheBuild(t *testing.T) {
	spec, err := config.ParseBuildspec("buildspec.yml", []byte("version: 0.2\nphases:\n  build:\n    commands: [sleep 300]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	res, err := Run(ctx, spec, Options{SrcDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusStopped {
		t.Errorf("status = %s, want %s", res.Status, StatusStopped)
	}
}

func TestRunAsAnotherUserIsRefused(t *testing.T) {
	spec, err := config.ParseBuildspec("buildspec.yml", []byte("version: 0.2\nrun-as: nobody-else\nphases:\n  build:\n    commands: [touch ran]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Run(context.Background(), spec, Options{SrcDir: dir})
	if err == nil || !strings.Contains(err.Error(), "run-as nobody-else") {
		t.Fatalf("err = %v, want a run-as refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("a command ran")
	}
}

func TestStdinIsNotTheScript(t *testing.T) {
	res, _, opts := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - cat > stdin.txt
      - echo second > second.txt
`, nil, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	if got := readFile(t, filepath.Join(opts.SrcDir, "stdin.txt")); got != "" {
		t.Errorf("a command read %q from stdin", got)
	}
	readFile(t, filepath.Join(opts.SrcDir, "second.txt"))
}

func TestShShell(t *testing.T) {
	res, _, _ := runBuild(t, "version: 0.2\nenv:\n  shell: /bin/sh\n  exported-variables: [A]\nphases:\n  build:\n    commands:\n      - A=$(echo sh)\n", nil, Options{})
	if !res.Succeeded || res.Exported["A"] != "sh" {
		t.Fatalf("result = %+v", res)
	}
}

func TestRedirectingTheShellsOutput(t *testing.T) {
	res, log, opts := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - exec >out.log 2>&1
      - echo hidden
      - sh -c 'readlink /proc/$$/fd/3 || echo closed' > fd3.txt
`, nil, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	if strings.Contains(log, "\nhidden") || readFile(t, filepath.Join(opts.SrcDir, "out.log")) != "hidden\n" {
		t.Error("exec >out.log did not redirect the rest of the build's output")
	}
	if fd3 := readFile(t, filepath.Join(opts.SrcDir, "fd3.txt")); fd3 != "closed\n" {
		t.Errorf("a command has fd 3 open: %q", fd3)
	}
}

func TestBackgroundProcessesDieWithTheBuild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	res, _, _ := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - sleep 300 &
      - echo $! > `+pidFile+`
`, nil, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed: %+v", res)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background sleep %d still runs after the build", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A build sees none of cutover's own environment but the variables that
// locate tools and the locale: not its cloud credentials, not its tokens.
func TestBuildDoesNotSeeTheDaemonsEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "daemon-secret")
	t.Setenv("CUTOVER_TOKEN", "daemon-token")
	_, _, opts := runBuild(t, `version: 0.2
phases:
  build:
    commands:
      - env > env.txt
`, nil, Options{})
	env := readFile(t, filepath.Join(opts.SrcDir, "env.txt"))
	for _, leak := range []string{"daemon-secret", "daemon-token"} {
		if strings.Contains(env, leak) {
			t.Errorf("the build saw %q in its environment:\n%s", leak, env)
		}
	}
	if !strings.Contains(env, "PATH=") || !strings.Contains(env, "CODEBUILD_BUILD_ID=") {
		t.Errorf("the build lacks PATH or CODEBUILD_BUILD_ID:\n%s", env)
	}
}
