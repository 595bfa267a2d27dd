package deploy

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// events returns the deployment's lifecycle events by name.
func (e *env) events(id string) map[string]store.LifecycleEvent {
	e.t.Helper()
	list, err := e.store.ListLifecycleEvents(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]store.LifecycleEvent{}
	for _, ev := range list {
		out[ev.Name] = ev
	}
	return out
}

func TestReleaseCommandFailureFailsBeforeTrafficMoves(t *testing.T) {
	for _, strategy := range []string{config.StrategyBlueGreen, config.StrategyRolling} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			v1 := e.appConfig("v1")
			v1.Deploy.Strategy = strategy
			e.setup(v1)

			l := startLoad(t, e.prodAddr)
			time.Sleep(300 * time.Millisecond)
			v2 := e.appConfig("v2")
			v2.Deploy.Strategy = strategy
			v2.Deploy.Release = []string{"/bin/sh", "-c", `echo "migrating to $VERSION"; echo "migration 7 failed" >&2; exit 3`}
			d := e.deploy(v2)
			time.Sleep(300 * time.Millisecond)
			l.checkNoFailures(t)

			if d.Status != store.DeploymentFailed {
				t.Fatalf("deployment ended %s (%s); want Failed", d.Status, d.Error)
			}
			want := "Release failed: release command exited with code 3"
			if !strings.HasPrefix(d.Error, want) || !strings.HasSuffix(d.Error, "last output: migration 7 failed") {
				t.Errorf("deployment error %q; want %q ... last output: migration 7 failed", d.Error, want)
			}
			ev := e.events(d.ID)["Release"]
			if ev.Status != store.LifecycleFailed || !strings.Contains(ev.Message, "migrating to v2\nmigration 7 failed") {
				t.Errorf("Release event %s: %q; want Failed with the output", ev.Status, ev.Message)
			}
			log, err := os.ReadFile(ReleaseLogPath(e.dir, d.ID))
			if err != nil || !strings.Contains(string(log), "migrating to v2") {
				t.Errorf("release log %q, %v", log, err)
			}
			e.checkNothingShifted(d)
			if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
				t.Errorf("production answers %v; want v1 only", got)
			}
			waitFor(t, 20*time.Second, "only v1 tasks", func() bool {
				live := e.liveTasks("web")
				return len(live) == 1 && live[d.FromRevision] == 2
			})
		})
	}
}

// checkNothingShifted fails the test when d ever gave the replacement
// traffic, or started a task of it under a rolling update.
func (e *env) checkNothingShifted(d store.Deployment) {
	e.t.Helper()
	history, err := e.store.WeightHistory(e.t.Context(), d.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var rec runRecord
	if err := json.Unmarshal(d.Config, &rec); err != nil {
		e.t.Fatal(err)
	}
	for _, w := range history {
		if rec.Green != rec.Blue && w.Weights[rec.Green] > 0 {
			e.t.Errorf("the %s listener gave the replacement %d%%", w.Listener, w.Weights[rec.Green])
		}
	}
	if d.Strategy == config.StrategyRolling {
		tasks, err := e.store.ListTasks(e.t.Context(), store.TaskFilter{App: d.App, Revision: d.ToRevision})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, task := range tasks {
			if task.TaskSet != TaskSetOneOff {
				e.t.Errorf("the rolling update started task %s of the new revision", task.ID)
			}
		}
	}
}

func TestReleaseCommandRunsOncePerDeploymentWithTheNewRevision(t *testing.T) {
	for _, strategy := range []string{config.StrategyBlueGreen, config.StrategyRolling} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ran := filepath.Join(t.TempDir(), "ran")
			cfg := func(version string) config.App {
				c := e.appConfig(version)
				c.Deploy.Strategy = strategy
				c.Deploy.Release = []string{"/bin/sh", "-c", `echo "$VERSION $CUTOVER_REVISION $(pwd)" >> ` + ran + `; echo released $VERSION`}
				return c
			}
			e.setup(cfg("v1"))
			d := e.deploy(cfg("v2"))
			if d.Status != store.DeploymentSucceeded {
				t.Fatalf("deployment ended %s: %s", d.Status, d.Error)
			}
			out, err := os.ReadFile(ran)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[1], "v2 "+d.ToRevision+" "+webRelease) {
				t.Errorf("the release command ran:\n%s\nwant once per deployment, the second with v2, %s, in %s", out, d.ToRevision, webRelease)
			}
			events := e.events(d.ID)
			rel := events["Release"]
			if rel.Status != store.LifecycleSucceeded || !strings.HasSuffix(rel.Message, "released v2") {
				t.Errorf("Release event %s: %q", rel.Status, rel.Message)
			}
			// Before any task of the new revision served: blue/green after
			// Install, before test traffic; rolling before its first task.
			if strategy == config.StrategyBlueGreen {
				if rel.StartedAt.Before(events["Install"].EndedAt) || rel.EndedAt.After(events["AllowTestTraffic"].StartedAt) {
					t.Errorf("Release ran %s-%s; Install ended %s, AllowTestTraffic began %s", rel.StartedAt, rel.EndedAt, events["Install"].EndedAt, events["AllowTestTraffic"].StartedAt)
				}
				return
			}
			tasks, err := e.store.ListTasks(t.Context(), store.TaskFilter{App: "web", Revision: d.ToRevision})
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				if task.TaskSet != TaskSetOneOff && task.CreatedAt.Before(rel.EndedAt) {
					t.Errorf("task %s was created at %s, before the release command ended at %s", task.ID, task.CreatedAt, rel.EndedAt)
				}
			}
		})
	}
}

func TestReleaseCommandTimeoutStopsIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	v2 := e.appConfig("v2")
	v2.Deploy.Release = []string{"/bin/sh", "-c", "echo waiting; exec sleep 60"}
	v2.Deploy.ReleaseTimeout = time.Second
	start := time.Now()
	d := e.deploy(v2)
	if d.Status != store.DeploymentFailed || !strings.Contains(d.Error, "timed out after 1s (deploy.release_timeout); last output: waiting") {
		t.Fatalf("deployment ended %s: %q; want Failed, timed out", d.Status, d.Error)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the deployment took %s", took)
	}
	tasks, err := e.store.ListTasks(t.Context(), store.TaskFilter{App: "web", Revision: d.ToRevision})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if task.TaskSet == TaskSetOneOff && task.State != store.TaskStopped {
			t.Errorf("the release task %s is %s", task.ID, task.State)
		}
	}
}

func TestRunTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{Command: []string{"true"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunTask of an unknown app: %v; want ErrNotFound", err)
	}
	cfg := e.appConfig("v1")
	if err := e.ctrl.PutApp(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{Command: []string{"true"}}); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "no running revision") {
		t.Errorf("RunTask of an app never deployed: %v; want ErrConflict, no running revision", err)
	}
	if d := e.deploy(cfg); d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment ended %s: %s", d.Status, d.Error)
	}
	if _, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{}); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "no command") {
		t.Errorf("RunTask without a command: %v; want ErrInvalid, no command", err)
	}

	tests := []struct {
		name    string
		command []string
		code    int
		output  string
	}{
		{"exit code", []string{"/bin/sh", "-c", "echo before; exit 3"}, 3, "before\n"},
		{"environment and directory", []string{"/bin/sh", "-c", `echo "$VERSION $CUTOVER_APP $(pwd)"`}, 0, "v1 web " + webRelease + "\n"},
		{"stderr too", []string{"/bin/sh", "-c", "echo oops >&2; exit 1"}, 1, "oops\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{Command: tt.command})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Remove(t.Context())
			var out strings.Builder
			if err := o.Output(t.Context(), &out); err != nil {
				t.Fatal(err)
			}
			exit, err := o.Wait(t.Context())
			if err != nil || exit.Code != tt.code || out.String() != tt.output {
				t.Errorf("exit %+v, %v, output %q; want code %d, output %q", exit, err, out.String(), tt.code, tt.output)
			}
			task, err := e.store.GetTask(t.Context(), o.ID())
			if err != nil || task.TaskSet != TaskSetOneOff || task.State != store.TaskStopped || task.Revision == "" {
				t.Errorf("the store has %+v, %v; want a stopped one-off task", task, err)
			}
		})
	}
	if got := e.liveTasks("web"); len(got) != 1 {
		t.Errorf("live tasks %v; the one-off tasks changed the service", got)
	}
}

func TestRunTaskReadsStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{Command: []string{"/bin/sh", "-c", "read line; echo got $line"}, Stdin: r})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Remove(t.Context())
	io.WriteString(w, "hello\n")
	w.Close()
	var out strings.Builder
	if err := o.Output(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	if exit, err := o.Wait(t.Context()); err != nil || exit.Code != 0 || out.String() != "got hello\n" {
		t.Errorf("exit %+v, %v, output %q; want 0, got hello", exit, err, out.String())
	}
}

func TestReleaseCommandOutputMasksSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	secret := []store.ConfigVar{{Name: "DB_PASSWORD", Value: "hunter2-very-secret", Secret: true}}
	if err := e.store.ChangeConfigVars(t.Context(), "web", store.ScopeRun, secret, nil); err != nil {
		t.Fatal(err)
	}
	v2 := e.appConfig("v2")
	v2.Deploy.Release = []string{"/bin/sh", "-c", `echo "connecting with $DB_PASSWORD"; printf '%s' "${#DB_PASSWORD}"`}
	d := e.deploy(v2)
	if d.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment ended %s: %s", d.Status, d.Error)
	}
	msg := e.events(d.ID)["Release"].Message
	// The length shows the task saw the opened value, not the sealed one.
	if !strings.Contains(msg, "connecting with ********\n19") {
		t.Errorf("Release event %q; want the secret masked, its length 19", msg)
	}
	log, err := os.ReadFile(ReleaseLogPath(e.dir, d.ID))
	if err != nil || strings.Contains(string(log)+msg, "hunter2") {
		t.Errorf("the secret is in the release output: %q %q, %v", msg, log, err)
	}
}

// TestRestartStopsOneOffTasksAndRunsAnInterruptedReleaseAgain: a
// controller killed while a one-off task and a release command run
// comes back serving the current revision (a one-off task is in no
// target group), stops the one-off task, and runs the release again.
func TestRestartStopsOneOffTasksAndRunsAnInterruptedReleaseAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	o, err := e.ctrl.RunTask(t.Context(), "web", RunOptions{Command: []string{"sleep", "60"}, Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(t.TempDir(), "ran")
	v2 := e.appConfig("v2")
	// The first run waits for a second one; the second passes.
	v2.Deploy.Release = []string{"/bin/sh", "-c", `echo run >> ` + ran + `; while [ "$(wc -l < ` + ran + `)" -eq 1 ]; do sleep 0.1; done`}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &v2})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the release command", func() bool {
		b, _ := os.ReadFile(ran)
		return len(b) > 0
	})
	e.kill()

	e.startController()
	if got := versionsNow(t, e.prodAddr, 10); got["v1"] != 10 {
		t.Errorf("after the restart production answers %v; want v1", got)
	}
	waitFor(t, 20*time.Second, "the one-off task stopped", func() bool {
		task, err := e.store.GetTask(t.Context(), o.ID())
		return err == nil && task.State == store.TaskStopped
	})
	d = e.wait(d.ID)
	if d.Status != store.DeploymentSucceeded {
		t.Fatalf("resumed deployment ended %s: %s", d.Status, d.Error)
	}
	if b, _ := os.ReadFile(ran); string(b) != "run\nrun\n" {
		t.Errorf("the release command ran %q; want twice, once before the restart and once after", b)
	}
}
