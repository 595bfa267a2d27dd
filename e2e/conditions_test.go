package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDeployWindowAndOverride, through the built binary: a deploy window
// set with `cutover pipeline settings` (in Asia/Kolkata) that opens at
// the next minute holds a pushed commit in front of Deploy, with its
// condition recorded and shown, and lets it deploy when it opens; with a
// window hours away, a deploy token cannot override, an admin's
// `cutover pipeline override` lets the execution through and is
// recorded with who. A bad window changes nothing. Production serves
// throughout (strict load, 0 failed requests).
func TestDeployWindowAndOverride(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("Debian's python3 is needed; scripts/test.sh installs it")
	}
	a := newPushedApp(t, "gate", "pyapp")
	a.up(t, "pyapp version 1\n")
	secret := a.secret(t)
	remote := fmt.Sprintf("http://push:%s@127.0.0.1:%d/git/%s.git", url.PathEscape(secret), a.api, a.name)

	out, code := run(t, "pipeline", "settings", a.name, "--data", a.data, "--deploy-window", "Mon-Fry 09:00-17:00")
	if code == 0 || !strings.Contains(out, `column 5: unknown day "Fry"`) {
		t.Fatalf("a bad window: exit %d\n%s", code, out)
	}
	if out, _ := run(t, "pipeline", "settings", a.name, "--data", a.data); strings.Contains(out, "deploy window") {
		t.Fatalf("the refused window was set:\n%s", out)
	}
	l := startPacedLoad(a.addr(), 4, 5*time.Millisecond)

	// A window opening at the next minute (at least 10s away), in India.
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	opens := time.Now().In(kolkata).Add(10 * time.Second).Truncate(time.Minute).Add(time.Minute)
	window := fmt.Sprintf("daily %s-%s", opens.Format("15:04"), opens.Add(30*time.Minute).Format("15:04"))
	out, code = run(t, "pipeline", "settings", a.name, "--data", a.data, "--deploy-window", window, "--time-zone", "Asia/Kolkata")
	if code != 0 || !strings.Contains(out, "deploy window  "+window+" Asia/Kolkata (outside it: retry)") {
		t.Fatalf("pipeline settings --deploy-window: exit %d\n%s", code, out)
	}
	a.replace(t, "server.py", `VERSION = "1"`, `VERSION = "2"`)
	a.commit(t, "version 2")
	e := a.pushAndWaitFor(t, remote, "Deploy waiting for the window", func(x executionDetail) bool {
		c := x.condition("Deploy", "DeploymentWindow")
		return c != nil && c.Status == "InProgress"
	})
	c := e.condition("Deploy", "DeploymentWindow")
	wantMsg := "outside the deploy window " + window + " Asia/Kolkata: it opens " + opens.Format("2006-01-02 15:04 MST")
	if c.Message != wantMsg || c.Result != "RETRY" || c.When != "beforeEntry" || e.DeploymentID != "" || !time.Now().Before(opens) {
		t.Fatalf("waiting: condition %+v, deployment %q at %s; want %q and no deployment before %s", *c, e.DeploymentID, time.Now(), wantMsg, opens)
	}
	show, _ := run(t, "pipeline", "show", e.ID, "--data", a.data)
	if !strings.Contains(show, "Deploy DeploymentWindow "+window+" Asia/Kolkata") || !strings.Contains(show, "waiting: "+wantMsg) {
		t.Errorf("pipeline show does not list the waiting condition:\n%s", show)
	}
	a.checkServes(t, "pyapp version 1\n", 5)
	e = a.waitDone(t, e.ID)
	if e.Status != "Succeeded" {
		t.Fatalf("after the window opened: %s %s\n%s", e.ID, e.Status, a.log(t, e.ID))
	}
	c = e.condition("Deploy", "DeploymentWindow")
	if c.Status != "Succeeded" || c.EndedAt.Before(opens) || c.EndedAt.After(opens.Add(10*time.Second)) {
		t.Errorf("condition %+v, want Succeeded within 10s of the opening %s", *c, opens)
	}
	t.Logf("the window opened at %s; the condition passed at %s after %d evaluations", opens, c.EndedAt, c.Evaluations)
	a.waitBody(t, "pyapp version 2\n", 10*time.Second)

	// A window hours away, and an override.
	far := time.Now().In(kolkata).Add(3 * time.Hour)
	window = fmt.Sprintf("daily %s-%s", far.Format("15:04"), far.Add(time.Hour).Format("15:04"))
	if out, code := run(t, "pipeline", "settings", a.name, "--data", a.data, "--deploy-window", window); code != 0 {
		t.Fatalf("pipeline settings: exit %d\n%s", code, out)
	}
	a.replace(t, "server.py", `VERSION = "2"`, `VERSION = "3"`)
	a.commit(t, "version 3")
	e = a.pushAndWaitFor(t, remote, "Deploy waiting for the window", func(x executionDetail) bool {
		c := x.condition("Deploy", "DeploymentWindow")
		return c != nil && c.Status == "InProgress"
	})
	out, code = run(t, "pipeline", "override", e.ID, "--server", fmt.Sprintf("http://127.0.0.1:%d", a.api), "--token", a.token)
	if code == 0 || !strings.Contains(out, "needs admin") {
		t.Fatalf("override with a deploy token: exit %d\n%s", code, out)
	}
	out, code = run(t, "pipeline", "override", e.ID, "--data", a.data, "--comment", "hotfix")
	if code != 0 || !strings.Contains(out, e.ID+": conditions overridden") {
		t.Fatalf("override: exit %d\n%s", code, out)
	}
	e = a.waitDone(t, e.ID)
	c = e.condition("Deploy", "DeploymentWindow")
	if e.Status != "Succeeded" || c.Status != "Overridden" || c.OverriddenBy != "local" {
		t.Fatalf("after the override: %s, condition %+v; want Succeeded, Overridden by local\n%s", e.Status, *c, a.log(t, e.ID))
	}
	a.waitBody(t, "pyapp version 3\n", 10*time.Second)
	if out, code := run(t, "pipeline", "override", e.ID, "--data", a.data); code == 0 || !strings.Contains(out, "not waiting for a stage condition") {
		t.Errorf("override of an ended execution: exit %d\n%s", code, out)
	}
	l.finish(t)
}

// executionDetail is what the test reads of `cutover pipeline show --json`.
type executionDetail struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	DeploymentID string `json:"deployment_id"`
	Stages       []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		Message    string `json:"message"`
		Conditions []conditionDetail
	} `json:"stages"`
}

type conditionDetail struct {
	When, Rule, Config, Result, Status, Message string
	Evaluations                                 int
	EndedAt                                     time.Time `json:"ended_at"`
	OverriddenBy                                string    `json:"overridden_by"`
}

func (x executionDetail) condition(stage, rule string) *conditionDetail {
	for _, st := range x.Stages {
		for i, c := range st.Conditions {
			if st.Name == stage && c.Rule == rule {
				return &st.Conditions[i]
			}
		}
	}
	return nil
}

func (a *pushedApp) show(t *testing.T, id string) executionDetail {
	t.Helper()
	out, _ := run(t, "pipeline", "show", id, "--json", "--data", a.data)
	var x executionDetail
	json.Unmarshal([]byte(out), &x)
	return x
}

// pushAndWaitFor pushes main to remote and waits until its execution
// satisfies cond.
func (a *pushedApp) pushAndWaitFor(t *testing.T, remote, what string, cond func(executionDetail) bool) executionDetail {
	t.Helper()
	commit := a.git(t, "rev-parse", "HEAD")
	a.git(t, "push", "-q", remote, "main")
	var x executionDetail
	waitFor(t, what, 2*time.Minute, func() bool {
		e := a.execution(t, commit)
		if e.ID == "" {
			return false
		}
		x = a.show(t, e.ID)
		return cond(x)
	})
	return x
}

// waitDone waits for the execution to end.
func (a *pushedApp) waitDone(t *testing.T, id string) executionDetail {
	t.Helper()
	var x executionDetail
	waitFor(t, "execution "+id+" to end", 3*time.Minute, func() bool {
		x = a.show(t, id)
		return x.Status != "" && x.Status != "InProgress" && x.Status != "Stopping"
	})
	return x
}
