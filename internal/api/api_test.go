package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// scriptedDeployer answers DeployDir with err, or creates a deployment in
// the real store; the real Deployer (internal/server) is covered by e2e/
// and cmd/cutover's golden tests. It counts the calls it gets.
type scriptedDeployer struct {
	st    *store.Store
	err   error
	calls atomic.Int32
}

func (d *scriptedDeployer) DeployDir(ctx context.Context, req DeployRequest) (store.Deployment, error) {
	d.calls.Add(1)
	if d.err != nil {
		return store.Deployment{}, d.err
	}
	rev, err := d.st.CreateRevision(ctx, store.Revision{App: "hello", Artifact: req.Dir})
	if err != nil {
		return store.Deployment{}, err
	}
	return d.st.CreateDeployment(ctx, store.Deployment{App: "hello", ToRevision: rev.ID, Strategy: "blue_green", Status: store.DeploymentInProgress})
}

func (d *scriptedDeployer) Continue(ctx context.Context, id string) error {
	d.calls.Add(1)
	return d.err
}
func (d *scriptedDeployer) Stop(ctx context.Context, id string) error { d.calls.Add(1); return d.err }
func (d *scriptedDeployer) Scale(ctx context.Context, app string, n int) error {
	d.calls.Add(1)
	if d.err != nil {
		return d.err
	}
	_, err := d.st.UpdateApp(ctx, app, func(a *store.App) error { a.DesiredCount = n; return nil })
	return err
}
func (d *scriptedDeployer) Restart(ctx context.Context, app string) error {
	d.calls.Add(1)
	if d.err != nil {
		return d.err
	}
	_, err := d.st.Append(ctx, store.Event{Type: "service.restarting", App: app, Actor: store.Actor(ctx)})
	return err
}
func (d *scriptedDeployer) ChangeEnv(ctx context.Context, app string, ch deploy.EnvChange) (store.Deployment, error) {
	d.calls.Add(1)
	if d.err != nil {
		return store.Deployment{}, d.err
	}
	return store.Deployment{}, d.st.ChangeConfigVars(ctx, app, ch.Scope, ch.Set, ch.Unset)
}
func (d *scriptedDeployer) Rollback(ctx context.Context, id string) error {
	d.calls.Add(1)
	return d.err
}

// fileLogs serves a task's logs from a fixed text.
type fileLogs struct{ text string }

func (l fileLogs) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	if id != "hello-t1" {
		return nil, fmt.Errorf("task %s: %w", id, runtime.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(l.text)), nil
}

// testAPI is an API served on a unix socket (Local) and on TCP (Remote).
type testAPI struct {
	h      *Handler
	st     *store.Store
	p      *scriptedPipelines
	local  *Client
	remote string // http://127.0.0.1:port
}

// serveBoth starts the API on a unix socket and on 127.0.0.1.
func serveBoth(t *testing.T, d *scriptedDeployer) *testAPI {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutApp(ctx, store.App{Name: "hello", DesiredCount: 3}); err != nil {
		t.Fatal(err)
	}
	d.st = st
	p := &scriptedPipelines{st: st}
	h := New(Options{Store: st, Deployer: d, Destroyer: d, Logs: fileLogs{"one\ntwo\nthree\n"}, Pipelines: p, System: recordingSystem{},
		PushURL: func(app string) string { return "http://127.0.0.1:9190/git/" + app + ".git" }})
	sock := filepath.Join(t.TempDir(), "api.sock")
	uln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	tln, err := ListenTCP(ctx, TCPOptions{Addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	local := &http.Server{Handler: h.Local()}
	remote := &http.Server{Handler: h.Remote()}
	go local.Serve(uln)
	go remote.Serve(tln)
	t.Cleanup(func() { local.Close(); remote.Close() })
	return &testAPI{h: h, st: st, p: p, local: NewClient(sock), remote: "http://" + tln.Addr().String()}
}

// serve starts the API and returns a client of its unix socket.
func serve(t *testing.T, d *scriptedDeployer) (*Client, *store.Store) {
	t.Helper()
	a := serveBoth(t, d)
	return a.local, a.st
}

func TestDeployAndRead(t *testing.T) {
	c, _ := serve(t, &scriptedDeployer{})
	ctx := context.Background()
	d, err := c.Deploy(ctx, DeployRequest{Dir: "/srv/hello"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	got, err := c.Deployment(ctx, d.ID)
	if err != nil || got.ID != d.ID || got.Status != store.DeploymentInProgress {
		t.Fatalf("Deployment(%s) = %+v, %v", d.ID, got, err)
	}
	apps, err := c.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].LastDeployment == nil || apps[0].LastDeployment.ID != d.ID {
		t.Fatalf("Apps = %+v, %v", apps, err)
	}
	list, err := c.Deployments(ctx, "hello", 5)
	if err != nil || len(list) != 1 {
		t.Fatalf("Deployments = %+v, %v", list, err)
	}
}

func TestErrorsMapToStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("deploying hello: %w", store.ErrDeploymentInProgress), http.StatusConflict},
		{fmt.Errorf("deployment x: %w", store.ErrNotFound), http.StatusNotFound},
		{errors.Join(&config.Error{File: "cutover.yaml", Line: 3, Column: 5, Field: "service.port", Msg: "missing"}), http.StatusBadRequest},
		{fmt.Errorf("%w: no such dir", ErrBadRequest), http.StatusBadRequest},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			c, _ := serve(t, &scriptedDeployer{err: tt.err})
			_, err := c.Deploy(context.Background(), DeployRequest{Dir: "/x"})
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != tt.want {
				t.Fatalf("Deploy error = %v, want status %d", err, tt.want)
			}
			if apiErr.Detail != tt.err.Error() {
				t.Errorf("detail %q, want %q", apiErr.Detail, tt.err.Error())
			}
		})
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	c, st := serve(t, &scriptedDeployer{})
	ctx := context.Background()
	before, _ := st.LastEventID(ctx)
	for _, body := range []string{`{}`, `{"dir": "/x", "bogus": 1}`, `not json`} {
		req, _ := http.NewRequest(http.MethodPost, "http://cutover/api/v1/deployments", strings.NewReader(body))
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("POST %s: %d %s", body, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if after, _ := st.LastEventID(ctx); after != before {
		t.Errorf("bad requests appended events %d..%d", before, after)
	}
}

func TestFollowStreamsEventsOfOneDeployment(t *testing.T) {
	c, st := serve(t, &scriptedDeployer{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Deploy(ctx, DeployRequest{Dir: "/srv/hello"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		le, _ := st.StartLifecycleEvent(ctx, d.ID, "BeforeInstall")
		st.EndLifecycleEvent(ctx, d.ID, le.Seq, store.LifecycleSucceeded, "")
		st.UpdateDeployment(ctx, d.ID, func(d *store.Deployment) error {
			d.Status = store.DeploymentSucceeded
			return nil
		})
	}()
	var types []string
	err = c.Follow(ctx, d.ID, func(ev store.Event) bool {
		if ev.Deployment != d.ID {
			t.Errorf("event of another deployment: %+v", ev)
		}
		types = append(types, ev.Type)
		return ev.Type != store.EventDeploymentStatus
	})
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	want := []string{store.EventDeploymentCreated, store.EventDeploymentLifecycle, store.EventDeploymentLifecycle, store.EventDeploymentStatus}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", types, want)
	}
}

func TestShutdownEndsEventStreams(t *testing.T) {
	a := serveBoth(t, &scriptedDeployer{})
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.h.Local()}
	srv.RegisterOnShutdown(a.h.CloseStreams)
	go srv.Serve(ln)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := NewClient(sock)
	resp, err := c.request(ctx, http.MethodGet, "/api/v1/events", nil, "text/event-stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a stream open: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
}

// recordingSystem stands in for the daemon's System in the route tests;
// the real upgrade is driven end to end in e2e/restart_test.go.
type recordingSystem struct{}

func (recordingSystem) Info(context.Context) (SystemInfo, error) {
	return SystemInfo{PID: 1, Instance: "test"}, nil
}

func (recordingSystem) Upgrade(context.Context) (UpgradeResult, error) {
	return UpgradeResult{Instance: "test"}, nil
}
