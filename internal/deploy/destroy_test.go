package deploy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// TestDestroy drains and stops an app's tasks and deletes it while an app
// sharing its listener serves on without a failed request; the destroyed
// app's host is then free for another app.
func TestDestroy(t *testing.T) {
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	api := e.appConfig("api-v1")
	api.Name, api.Listeners.Test, api.Listeners.Hosts = "api", "", []string{"api.example.com"}
	if d := e.deploy(api); d.Status != store.DeploymentSucceeded {
		t.Fatalf("deploying api ended %s: %s", d.Status, d.Error)
	}
	thief := api
	thief.Name = "thief"
	_, err := e.ctrl.Deploy(t.Context(), "thief", RevisionSpec{Artifact: webRelease, Config: &thief})
	if err == nil || !strings.Contains(err.Error(), "already claimed by app api") {
		t.Fatalf("a second app claiming api.example.com: %v, want refused naming api", err)
	}

	if err := e.ctrl.Destroy(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Destroy(nope) = %v, want ErrNotFound", err)
	}
	l := startLoad(t, e.prodAddr)
	if err := e.ctrl.Destroy(t.Context(), "api"); err != nil {
		t.Fatal(err)
	}
	l.checkNoFailures(t)
	if _, err := e.store.GetApp(t.Context(), "api"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the store still has api: %v", err)
	}
	if n := e.liveTasks("api"); len(n) != 0 {
		t.Errorf("api has live tasks after Destroy: %v", n)
	}
	if err := e.ctrl.Scale(t.Context(), "api", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Scale of a destroyed app = %v, want ErrNotFound", err)
	}
	if d := e.deploy(thief); d.Status != store.DeploymentSucceeded {
		t.Fatalf("deploying thief on the freed host ended %s: %s", d.Status, d.Error)
	}
}

// TestDestroyRefusedDuringDeployment: a running deployment must be
// stopped first; nothing is stopped meanwhile.
func TestDestroyRefusedDuringDeployment(t *testing.T) {
	e := newEnv(t)
	e.setup(e.appConfig("v1"))
	next := e.appConfig("v2")
	next.Deploy.ReadyWait = config.ReadyWait{Manual: true, Wait: 30 * time.Second}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &next})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Destroy(t.Context(), "web"); !errors.Is(err, store.ErrDeploymentInProgress) {
		t.Errorf("Destroy during deployment %s = %v, want ErrDeploymentInProgress", d.ID, err)
	}
	if err := e.ctrl.Stop(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	e.wait(d.ID)
	if err := e.ctrl.Destroy(t.Context(), "web"); err != nil {
		t.Fatalf("Destroy after the deployment was stopped: %v", err)
	}
}

func TestHostConflict(t *testing.T) {
	app := func(name string, hosts ...string) config.App {
		return config.App{Name: name, Listeners: config.Listeners{Production: ":443", Hosts: hosts}}
	}
	tests := []struct {
		name        string
		mine, other config.App
		want        string // "" when they may share the listener
	}{
		{"both default", app("a"), app("b"), "already used by app b without hosts"},
		{"default and hosts", app("a"), app("b", "b.example.com"), ""},
		{"distinct hosts", app("a", "a.example.com"), app("b", "b.example.com"), ""},
		{"same host", app("a", "x.example.com"), app("b", "x.example.com"), "host x.example.com on listener :443 is already claimed by app b"},
		{"case and trailing dot", app("a", "X.Example.com."), app("b", "x.example.com"), "already claimed by app b"},
		{"same wildcard", app("a", "*.example.com"), app("b", "*.example.com"), "already claimed by app b"},
		{"exact under a wildcard", app("a", "api.example.com"), app("b", "*.example.com"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := hostConflict(tt.mine, tt.other, ":443")
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestHostChangeAppliesWithTheDeployment: a deployment that adds a host
// routes it only once it succeeds (not during its ready wait), and the
// host the app kept serves throughout without a failed request.
func TestHostChangeAppliesWithTheDeployment(t *testing.T) {
	e := newEnv(t)
	v1 := e.appConfig("v1")
	v1.Listeners.Hosts = []string{"web.example.com"}
	e.setup(v1)
	kept := startHostRequests(t, e.prodAddr, "web.example.com")

	v2 := e.appConfig("v2")
	v2.Listeners.Hosts = []string{"web.example.com", "new.example.com"}
	v2.Deploy.ReadyWait = config.ReadyWait{Manual: true, Wait: time.Minute}
	d, err := e.ctrl.Deploy(t.Context(), "web", RevisionSpec{Artifact: webRelease, Config: &v2})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the ready wait", func() bool {
		got, err := e.store.GetDeployment(t.Context(), d.ID)
		return err == nil && got.Step == stepReadyWait
	})
	if code, _ := hostGet(e.prodAddr, "new.example.com"); code != http.StatusServiceUnavailable {
		t.Errorf("during the deployment the new host answered %d, want 503 (no route): it is routed only once the deployment succeeds", code)
	}
	if err := e.ctrl.Continue(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.wait(d.ID); got.Status != store.DeploymentSucceeded {
		t.Fatalf("deployment ended %s: %s", got.Status, got.Error)
	}
	if code, version := hostGet(e.prodAddr, "new.example.com"); code != http.StatusOK || version != "v2" {
		t.Errorf("after the deployment the new host answered %d %q, want 200 v2", code, version)
	}
	kept.checkNoFailures(t)
}

// startHostRequests sends requests with Host host to addr until the test
// checks them.
func startHostRequests(t *testing.T, addr, host string) *load {
	l := &load{url: "http://" + addr + "/", versions: map[string]int64{}, stop: make(chan struct{})}
	l.wg.Go(func() {
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			l.sent.Add(1)
			code, version := hostGet(addr, host)
			if code != http.StatusOK {
				l.fail(fmt.Sprintf("%s: status %d", host, code))
			}
			l.mu.Lock()
			l.versions[version]++
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Cleanup(l.finish)
	return l
}

// hostGet sends GET / with Host host and returns the status and X-Version.
func hostGet(addr, host string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Version")
}
