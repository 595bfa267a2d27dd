package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Options are a Notifier's dependencies.
type Options struct {
	Store  *store.Store
	Logger *slog.Logger // nil: discard
	// Link returns the dashboard's URL of path ("/deployments/hello-d3"),
	// "" when cutover serves no dashboard; nil: no links.
	Link func(path string) string
	// Getenv reads the variables secret_env names; nil: os.Getenv.
	Getenv func(string) string
	// Client sends deliveries; nil: a client that refuses link-local
	// addresses and redirects to another host.
	Client *http.Client
}

// Notifier turns events of the store's log into deliveries and sends
// them.
type Notifier struct {
	store  *store.Store
	log    *slog.Logger
	link   func(string) string
	getenv func(string) string
	sender *sender

	// begun: Begin found the notifier's place, start, before Run.
	begun bool
	start int64
}

// New returns a Notifier; Run starts it.
func New(opts Options) *Notifier {
	n := &Notifier{store: opts.Store, log: opts.Logger, link: opts.Link, getenv: opts.Getenv}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.link == nil {
		n.link = func(string) string { return "" }
	}
	if n.getenv == nil {
		n.getenv = os.Getenv
	}
	client := opts.Client
	if client == nil {
		client = newClient()
	}
	n.sender = newSender(opts.Store, client, n.log)
	return n
}

// Begin returns the notifier's place in the event log. On the first
// start it records the log's end as that place: what happened before is
// not news. Call it before anything can record an event that is news (the
// API's first deployment), as Run starts on its own time; Run calls it
// when it was not called before.
func (n *Notifier) Begin(ctx context.Context) (last int64, err error) {
	if last, err = n.begin(ctx); err == nil {
		n.begun, n.start = true, last
	}
	return last, err
}

func (n *Notifier) begin(ctx context.Context) (last int64, err error) {
	last, ok, err := n.store.NotificationCursor(ctx)
	if err != nil || ok {
		return last, err
	}
	if last, err = n.store.LastEventID(ctx); err != nil {
		return 0, err
	}
	if _, err := n.store.QueueNotifications(ctx, last, nil); err != nil {
		return 0, err
	}
	return last, nil
}

// Run follows the event log and sends deliveries, resuming the pending
// ones, until ctx ends; then it waits for the attempts in flight.
func (n *Notifier) Run(ctx context.Context) error {
	last := n.start
	if !n.begun {
		var err error
		if last, err = n.Begin(ctx); err != nil {
			return err
		}
	}
	done := make(chan struct{})
	go func() {
		n.sender.run(ctx)
		close(done)
	}()
	for ctx.Err() == nil {
		last = n.follow(ctx, last)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // the store failed a read; try again
		}
	}
	<-done
	return nil
}

// follow handles the events after last until the subscription ends or
// handling one fails, and returns the last event handled.
func (n *Notifier) follow(ctx context.Context, last int64) int64 {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for e := range n.store.Subscribe(ctx, last) {
		if err := n.handle(ctx, e); err != nil {
			if ctx.Err() == nil {
				n.log.Error("queueing notifications", "event", e.ID, "err", err)
			}
			return last
		}
		last = e.ID
	}
	return last
}

// target is one webhook an app has.
type target struct {
	hook, url string
	events    []string
	secret    string
	unsent    string // why a delivery cannot be sent
}

// handle queues the deliveries of event e.
func (n *Notifier) handle(ctx context.Context, e store.Event) error {
	p, ok := kind(e)
	if !ok || p.App == "" {
		return nil
	}
	cfg, err := n.configOf(ctx, p)
	if err != nil {
		return err
	}
	if p.Event == "deployment.waiting" {
		rw := cfg.Deploy.ReadyWait
		if rw.Wait <= 0 {
			return nil // the ready wait is recorded, and skipped, in every blue/green deployment
		}
		p.Wait, p.Manual = rw.Wait.String(), rw.Manual
	}
	targets, err := n.targets(ctx, p.App, cfg)
	if err != nil {
		return err
	}
	if p.Deployment != "" && p.Execution == "" {
		p.URL = n.link("/deployments/" + p.Deployment)
	} else if p.Execution != "" {
		p.URL = n.link("/pipelines/" + p.Execution)
	}
	p.Error = maskValues(p.Error, n.envOf(cfg))
	p.Text = text(p)
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	subject := p.Deployment
	if p.Execution != "" {
		subject = p.Execution
	}
	var ds []store.NotificationDelivery
	for _, t := range targets {
		if !Selects(t.events, p.Event) {
			continue
		}
		d := store.NotificationDelivery{App: p.App, Hook: t.hook, URL: t.url, Event: p.Event, Subject: subject, Body: body, Secret: t.secret}
		if t.unsent != "" {
			d.Status, d.LastError = store.DeliveryFailed, t.unsent
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil
	}
	if _, err := n.store.QueueNotifications(ctx, e.ID, ds); err != nil {
		return err
	}
	n.sender.kick()
	return nil
}

// targets returns app's webhooks: those of cfg, the configuration that
// applies to the event (see configOf), then those added through the API.
func (n *Notifier) targets(ctx context.Context, app string, cfg config.App) ([]target, error) {
	var out []target
	for i, nt := range cfg.Notifications {
		t := target{hook: "cutover.yaml#" + strconv.Itoa(i+1), url: nt.URL, events: nt.Events}
		if nt.SecretEnv != "" {
			if t.secret = n.getenv(nt.SecretEnv); t.secret == "" {
				t.unsent = fmt.Sprintf("not sent: secret_env %s is not set in cutover's environment", nt.SecretEnv)
			}
		}
		out = append(out, t)
	}
	hooks, err := n.store.NotificationHooks(ctx, app)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		out = append(out, target{hook: h.ID, url: h.URL, events: h.Events, secret: h.Secret})
	}
	return out, nil
}

// envOf returns the app's environment to mask: service.env and the
// config vars, secret ones opened.
func (n *Notifier) envOf(cfg config.App) map[string]string {
	env := maps.Clone(cfg.Service.Env)
	if env == nil {
		env = map[string]string{}
	}
	vars, err := n.store.OpenEnv(cfg.Service.ConfigVars)
	if err != nil {
		n.log.Warn("notifications: the config vars do not open; their values are not masked", "app", cfg.Name, "err", err)
	}
	maps.Copy(env, vars)
	return env
}

// configOf returns the app configuration that applies to p: the one a
// deployment deploys (for a deployment's events) or the app's current one
// (for a pipeline's); the zero App when there is none (the app or
// revision is gone).
func (n *Notifier) configOf(ctx context.Context, p Payload) (config.App, error) {
	var cfg config.App
	var raw json.RawMessage
	if strings.HasPrefix(p.Event, "deployment.") {
		d, err := n.store.GetDeployment(ctx, p.Deployment)
		if err == nil {
			var rev store.Revision
			rev, err = n.store.GetRevision(ctx, d.ToRevision)
			raw = rev.Config
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return cfg, err
		}
	} else {
		a, err := n.store.GetApp(ctx, p.App)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return cfg, err
		}
		raw = a.Spec
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			n.log.Warn("notifications: the app's configuration does not decode", "app", p.App, "err", err)
		}
	}
	return cfg, nil
}
