package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
	"github.com/cutover/cutover/internal/store/storetest"
)

// TestQueue follows one deployment's events through handle, on a real
// store, and checks which deliveries each webhook gets.
func TestQueue(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	cfg := config.App{Name: "hello",
		Service: config.Service{Env: map[string]string{"DB_PASSWORD": "hunter22"}},
		Notifications: []config.Notification{
			{URL: "http://127.0.0.1:1/all", SecretEnv: "HOOK_SECRET"},
			{URL: "http://127.0.0.1:1/failures", Events: []string{"deployment.failed", "deployment.rolled_back"}},
			{URL: "http://127.0.0.1:1/unset", Events: []string{"deployment.started"}, SecretEnv: "NOT_SET"},
		}}
	raw, _ := json.Marshal(cfg)
	if err := st.PutApp(ctx, store.App{Name: "hello", Spec: raw}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddNotificationHook(ctx, store.NotificationHook{App: "hello", URL: "http://127.0.0.1:1/api", Events: []string{"deployment.*"}, Secret: "api-secret"}); err != nil {
		t.Fatal(err)
	}
	if err := st.ChangeConfigVars(ctx, "hello", store.ScopeRun, []store.ConfigVar{{Name: "API_KEY", Value: "sk-live-12345", Secret: true}}, nil); err != nil {
		t.Fatal(err)
	}
	sealed, err := st.SealedEnv(ctx, "hello", store.ScopeRun)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Service.ConfigVars = sealed
	raw, _ = json.Marshal(cfg) // as a deployment records it: the secret sealed
	rev, err := st.CreateRevision(ctx, store.Revision{App: "hello", Config: raw})
	if err != nil {
		t.Fatal(err)
	}
	n := New(Options{Store: st, Getenv: func(k string) string { return map[string]string{"HOOK_SECRET": "yaml-secret"}[k] },
		Link: func(p string) string { return "https://cutover.test" + p }})

	d, err := st.CreateDeployment(ctx, store.Deployment{App: "hello", ToRevision: rev.ID, Status: store.DeploymentInProgress})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartLifecycleEvent(ctx, d.ID, "ReadyWait"); err != nil { // no ready wait: not news
		t.Fatal(err)
	}
	if _, err := st.UpdateDeployment(ctx, d.ID, func(d *store.Deployment) error {
		d.Status, d.Error = store.DeploymentFailed, "BeforeInstall: could not reach postgres://app:hunter22@db with key sk-live-12345"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	events, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := n.handle(ctx, e); err != nil {
			t.Fatalf("handling %s: %v", e.Type, err)
		}
	}

	ds, err := st.NotificationDeliveries(ctx, "hello", 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.NotificationDelivery{}
	for _, d := range ds {
		got[d.Hook+" "+d.Event] = d
	}
	want := map[string]string{ // hook and event -> status
		"cutover.yaml#1 deployment.started": store.DeliveryPending,
		"cutover.yaml#1 deployment.failed":  store.DeliveryPending,
		"cutover.yaml#2 deployment.failed":  store.DeliveryPending,
		"cutover.yaml#3 deployment.started": store.DeliveryFailed,
		"hello-n1 deployment.started":       store.DeliveryPending,
		"hello-n1 deployment.failed":        store.DeliveryPending,
	}
	if len(got) != len(want) {
		t.Errorf("%d deliveries, want %d: %v", len(got), len(want), keys(got))
	}
	for k, status := range want {
		if got[k].Status != status {
			t.Errorf("%s: %q, want %q", k, got[k].Status, status)
		}
	}
	if e := got["cutover.yaml#3 deployment.started"].LastError; !strings.Contains(e, "secret_env NOT_SET is not set") {
		t.Errorf("unsent delivery's error %q", e)
	}
	if got["cutover.yaml#1 deployment.started"].Secret != "yaml-secret" || got["hello-n1 deployment.started"].Secret != "api-secret" {
		t.Error("deliveries do not carry their webhook's secret")
	}
	var p Payload
	json.Unmarshal(got["cutover.yaml#2 deployment.failed"].Body, &p)
	if strings.Contains(string(got["cutover.yaml#2 deployment.failed"].Body), "hunter22") ||
		p.Text != "hello: deployment hello-d1 failed: BeforeInstall: could not reach postgres://app:***@db with key *** https://cutover.test/deployments/hello-d1" {
		t.Errorf("deployment.failed body: %s", got["cutover.yaml#2 deployment.failed"].Body)
	}
	// Handling the same events again (a restart before the cursor moved)
	// queues nothing more.
	for _, e := range events {
		n.handle(ctx, e)
	}
	if again, _ := st.NotificationDeliveries(ctx, "hello", 100); len(again) != len(ds) {
		t.Errorf("handling the events again made %d deliveries, want %d", len(again), len(ds))
	}
}

func keys(m map[string]store.NotificationDelivery) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWaitingNeedsAReadyWait(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	cfg := config.App{Name: "hello", Deploy: config.Deploy{ReadyWait: config.ReadyWait{Wait: 10 * time.Minute, Manual: true}},
		Notifications: []config.Notification{{URL: "http://127.0.0.1:1/x", Events: []string{"deployment.waiting"}}}}
	raw, _ := json.Marshal(cfg)
	st.PutApp(ctx, store.App{Name: "hello", Spec: raw})
	rev, _ := st.CreateRevision(ctx, store.Revision{App: "hello", Config: raw})
	d, err := st.CreateDeployment(ctx, store.Deployment{App: "hello", ToRevision: rev.ID, Status: store.DeploymentInProgress})
	if err != nil {
		t.Fatal(err)
	}
	st.StartLifecycleEvent(ctx, d.ID, "ReadyWait")
	n := New(Options{Store: st})
	events, _ := st.Events(ctx, store.EventFilter{})
	for _, e := range events {
		if err := n.handle(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ := st.NotificationDeliveries(ctx, "hello", 10)
	if len(ds) != 1 || ds[0].Event != "deployment.waiting" {
		t.Fatalf("deliveries %+v, want one deployment.waiting", ds)
	}
	var p Payload
	json.Unmarshal(ds[0].Body, &p)
	if want := "hello: deployment hello-d1 waits up to 10m0s for `cutover continue hello-d1` before production traffic"; p.Text != want {
		t.Errorf("text %q, want %q", p.Text, want)
	}
}

// TestEventsAfterBeginAreNotified: on the notifier's first start, an
// event recorded after Begin and before Run (the first deployment that
// `cutover up` starts at once) is notified; Run alone would take it for
// history.
func TestEventsAfterBeginAreNotified(t *testing.T) {
	ctx := t.Context()
	st := storetest.Open(t)
	got := make(chan string, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Cutover-Event")
	}))
	defer receiver.Close()
	raw, _ := json.Marshal(config.App{Name: "hello"})
	if err := st.PutApp(ctx, store.App{Name: "hello", Spec: raw}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddNotificationHook(ctx, store.NotificationHook{App: "hello", URL: receiver.URL, Events: []string{"deployment.*"}}); err != nil {
		t.Fatal(err)
	}
	rev, err := st.CreateRevision(ctx, store.Revision{App: "hello", Config: raw})
	if err != nil {
		t.Fatal(err)
	}

	n := New(Options{Store: st})
	if _, err := n.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDeployment(ctx, store.Deployment{App: "hello", ToRevision: rev.ID, Status: store.DeploymentInProgress}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case event := <-got:
		if event != "deployment.started" {
			t.Errorf("the receiver got %q, want deployment.started", event)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the deployment that started between Begin and Run was not notified")
	}
}
